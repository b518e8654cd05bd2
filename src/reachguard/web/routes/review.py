"""Draft review: run the content review on a text and show the findings highlighted in it."""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import APIRouter, Depends, Request
from starlette.responses import Response

from reachguard.content.review import blocking as blocking_findings
from reachguard.content.review import review
from reachguard.model import Finding
from reachguard.web.deps import WebError, form, officer
from reachguard.web.render import render
from reachguard.web.session import Officer

router = APIRouter()
PURPOSES = ("collection", "marketing", "service")
RELATIONS = ("borrower", "contact", "guarantor", "prospect")
CHANNELS = ("sms", "push", "call", "robocall")


@dataclass(frozen=True, slots=True)
class Segment:
    """A run of the text: plain, or marked with the findings that cover it."""

    text: str
    codes: tuple[str, ...] = ()
    blocking: bool = False
    starts: tuple[str, ...] = ()  # the codes whose span begins here (labelled once)


def highlight(text: str, findings: list[Finding], blocks: set[int]) -> list[Segment]:
    """Cut `text` at every finding boundary; overlapping findings mark the same run.

    Findings about the text as a whole (a missing disclosure spans all of it) are listed, not marked.
    """
    findings = [f for f in findings if not (f.span[0] <= 0 and f.span[1] >= len(text))]
    cuts = {0, len(text)}
    for f in findings:
        cuts.update((max(0, f.span[0]), min(len(text), f.span[1])))
    points = sorted(cuts)
    segments = []
    for start, end in zip(points, points[1:]):
        covering = [f for f in findings if f.span[0] <= start and end <= f.span[1] and f.span[0] < f.span[1]]
        segments.append(Segment(text[start:end], tuple(f.code for f in covering), any(id(f) in blocks for f in covering),
                                tuple(f.code for f in covering if f.span[0] == start)))
    return segments


@router.get("/console/review")
async def page(request: Request, who: Officer = Depends(officer)) -> Response:
    return render(request, "review.html", purposes=PURPOSES, relations=RELATIONS, channels=CHANNELS, chosen={}, result=None)


@router.post("/console/review")
async def run(request: Request, who: Officer = Depends(officer)) -> Response:
    values = await form(request, {"text": 10_000, "purpose": 16, "relation": 16, "channel": 16})
    if values["purpose"] not in PURPOSES or values["relation"] not in RELATIONS or values["channel"] not in CHANNELS:
        raise WebError(400, "err.required", field="purpose/relation/channel")
    if not values["text"]:
        raise WebError(400, "err.required", field="text")
    result = review(values["text"], values["purpose"], values["relation"], values["channel"])
    policy = request.app.state.service.policies.for_org(who.org)
    blocks = {id(f) for f in blocking_findings(policy, result.findings, values["purpose"], values["channel"])}
    return render(request, "review.html", purposes=PURPOSES, relations=RELATIONS, channels=CHANNELS, chosen=values,
                  result=result, blocks=blocks, segments=highlight(values["text"], result.findings, blocks))
