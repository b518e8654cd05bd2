"""`reachguard audit verify|export|checkpoint|anchor|public-key`: prove what was decided."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Optional

import typer

from reachguard.cli import app
from reachguard.cli.common import Utf8Group, time_option

if TYPE_CHECKING:
    from reachguard.core.config import Settings
    from reachguard.ledger.checkpoint import Signer
    from reachguard.store.base import Store

audit_app = typer.Typer(
    cls=Utf8Group,
    name="audit",
    help="Check and export the tamper-evident ledger.\n\n"
    "Example: reachguard audit verify --db ./reachguard.db",
    no_args_is_help=True,
)
app.add_typer(audit_app, name="audit")
_DB_HELP = "Store path or URL (default: $REACHGUARD_DB_URL or ./reachguard.db)."


def _settings(db: str | None):
    from reachguard.core.config import ConfigError, load_settings

    try:
        return load_settings(db_url=db)
    except ConfigError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc


def _open(db: str | None, signs: bool = False):
    """The settings and the store; `signs`: the command signs, so it needs a key that outlives it."""
    from reachguard.core.config import ConfigError
    from reachguard.store import StoreUnavailable, open_store

    settings = _settings(db)
    if signs:
        try:
            settings.require_durable_signing_key()
        except ConfigError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from exc
    if settings.sqlite_file() is not None and not settings.sqlite_file().exists():
        typer.echo(f"error: no store at {settings.sqlite_file()}", err=True)
        raise typer.Exit(2)
    try:
        return settings, open_store(settings.db_url)
    except StoreUnavailable as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc


def _signer(settings: "Settings", store: "Store") -> "Signer":
    """The ledger's signer; a key file that cannot be read or made is an error line, exit 2."""
    from reachguard.ledger.checkpoint import Signer, SigningKeyError

    try:
        return Signer.open(store, settings.signing_key_path())
    except SigningKeyError as exc:  # the caller's `finally` closes the store
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc


@audit_app.command("verify")
def verify(
    db: Optional[str] = typer.Option(None, "--db", help=_DB_HELP),
    trusted_key: list[str] = typer.Option(
        [], "--trusted-key", metavar="FILE_OR_PEM",
        help="An Ed25519 public key to trust besides the signing key's own: a PEM file (or PEM text) as "
        "`reachguard audit public-key` prints it. Repeat it for several keys (earlier keys after a rotation).",
    ),
    anchor: Optional[Path] = typer.Option(
        None, "--anchor", metavar="FILE",
        help="An anchor written earlier by `reachguard audit anchor` and kept outside the database: every org "
        "head it holds must still be in the chain, unchanged (catches a tail cut or rewritten after the last checkpoint).",
    ),
) -> None:
    """Re-walk every org's hash chain and check every signed checkpoint; report the first broken entry.

    A checkpoint counts only if it is signed by a trusted key: the public half of this ledger's signing
    key (signing_key_file, default <db file>.signing-key.pem; read, never created, here), the keys of
    the ledger_trusted_key_files setting, and every --trusted-key. The public keys kept in the database
    are not trusted: whoever can rewrite the chain can add a key there and re-sign every checkpoint.
    After a key rotation, pass the earlier keys' public halves with --trusted-key. To verify a copy of
    the database elsewhere, pass the key that `reachguard audit public-key` printed where it was made.

    Entries after an org's last checkpoint are protected only by an anchor: with --anchor FILE, an
    anchored head that is gone (the tail was cut) or differs (rewritten) is BROKEN. The anchor's own
    signature must be by a trusted key.

    Exit 0 when every chain holds, 1 when one is broken (edited, deleted, reordered or rewritten
    entries, a bad signature, or a checkpoint signed by a key that is not trusted), 2 on usage errors
    and when signatures were not checked because no trusted key is available (the chains are still
    walked and reported).

    Example: reachguard audit verify --db ./reachguard.db --trusted-key old-ledger-key.pub.pem
    """
    from reachguard.ledger.anchor import AnchorError, read_anchor
    from reachguard.ledger.audit import audit_store
    from reachguard.ledger.checkpoint import (SigningKeyError, TrustedKeyError, TrustedKeys, load_existing_key,
                                              load_public_key)

    settings, store = _open(db)
    try:
        try:
            publics = [load_public_key(value) for value in trusted_key] + settings.ledger_trusted_keys()
            own = load_existing_key(settings.signing_key_path())
        except (TrustedKeyError, SigningKeyError) as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from exc
        if own is not None:
            publics.append(own.public_key())
        trusted = TrustedKeys.of(publics)
        try:
            anchored = None if anchor is None else read_anchor(anchor, trusted)
        except AnchorError as exc:
            typer.echo(f"error: {exc}", err=True)
            raise typer.Exit(2) from exc
        reports = audit_store(store, trusted, anchored)
    finally:
        store.close()
    broken = unchecked = False
    for r in reports:
        if r.ok:
            typer.echo(f"ok      {r.org}: {r.checked} entries, {r.checkpoints} signed checkpoint(s)")
        elif r.broken is not None:
            broken = True
            typer.echo(f"BROKEN  {r.org}: first broken entry seq {r.broken.seq}: {r.broken.problem} "
                       f"({r.checked} entries before it hold)")
        else:
            unchecked = True
            typer.echo(f"UNCHECKED {r.org}: {r.checked} entries hold, but {r.checkpoints} checkpoint(s): {r.unchecked}")
    if not reports:
        typer.echo("the ledger is empty")
    if anchored is not None:
        typer.echo(f"anchor {anchor} of {anchored.made_at} (key {anchored.key_id}): {len(anchored.heads)} org head(s) checked")
    if broken:
        raise typer.Exit(1)
    if unchecked:
        typer.echo(f"error: {trusted.missing}", err=True)
        raise typer.Exit(2)


@audit_app.command("export")
def export(
    org: str = typer.Option(..., "--org", help="The org whose chain to export."),
    from_: Optional[str] = typer.Option(None, "--from", help="ISO-8601 time with offset (inclusive)."),
    to: Optional[str] = typer.Option(None, "--to", help="ISO-8601 time with offset (exclusive)."),
    out: Path = typer.Option(Path("ledger-export"), "--out", help="Folder to write (created)."),
    db: Optional[str] = typer.Option(None, "--db", help=_DB_HELP),
) -> None:
    """Write an org's ledger entries and their proof (signed checkpoints, public keys, a signed manifest, VERIFY.md, a standalone verify.py).

    An auditor checks it without ReachGuard: python3 OUT/verify.py OUT KEY_ID[,KEY_ID...], with the
    key ids the org gave them out of band (`reachguard audit public-key`); after a key rotation the
    export's older checkpoints are signed by the earlier key, and the command printed here lists
    every key that signed the export. The manifest (org, seq and time range, entry count, last
    entry hash, each file's SHA-256, export time and the org's chain head then) is signed with the
    ledger's key, so a signed prefix of the export cannot pass as the whole of it. An older export
    of the same range still verifies (late-recorded events can fall in it): verify.py prints the
    export time and head to compare with an anchor (`reachguard audit anchor`).

    Example: reachguard audit export --org acme --from 2026-11-01T00:00:00+08:00 --to 2026-12-01T00:00:00+08:00 --out acme-nov
    """
    from reachguard.ledger.checkpoint import TrustedKeyError, key_id_of
    from reachguard.ledger.export import ExportError, export_ledger

    start = None if from_ is None else time_option(from_, "--from")
    end = None if to is None else time_option(to, "--to")
    settings, store = _open(db, signs=True)
    try:
        signer = _signer(settings, store)
        exported = export_ledger(store, org, out, start, end, signer)
    except ExportError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(1) from exc
    finally:
        store.close()
    manifest = exported.manifest
    typer.echo(f"exported {manifest['entries']} entries of {org} (seq {manifest['seq_first']}..{manifest['seq_last']}, "
               f"{manifest['entries_in_range']} in range) with {manifest['checkpoints']} signed checkpoint(s) to {out}")
    earlier = [k for k in exported.key_ids if k != signer.key_id]
    if earlier:
        # The earlier keys come from the checkpoints in the database, which pins nothing: name the
        # ones the configuration does not know, so nobody hands an auditor a key a forger added.
        try:
            pinned = {key_id_of(p) for p in settings.ledger_trusted_keys()}
        except TrustedKeyError:
            pinned = set()
        unknown = [k for k in earlier if k not in pinned]
        typer.echo(f"signed by the current key {signer.key_id} and, before a key rotation, by {', '.join(earlier)}"
                   + (f"; not in ledger_trusted_key_files: {', '.join(unknown)} (make sure it was this "
                      "ledger's signing key before handing on the command)" if unknown else ""))
    typer.echo(f"check it: python3 {out / 'verify.py'} {out} {','.join(exported.key_ids)}")


@audit_app.command("checkpoint")
def checkpoint(db: Optional[str] = typer.Option(None, "--db", help=_DB_HELP)) -> None:
    """Sign a checkpoint of every chain's head now (the server also does it every checkpoint_interval_seconds).

    Example: reachguard audit checkpoint --db ./reachguard.db
    """
    settings, store = _open(db, signs=True)
    try:
        made = _signer(settings, store).checkpoint_all()
    finally:
        store.close()
    for c in made:
        typer.echo(f"signed {c.org} seq {c.seq} {c.entry_hash} with key {c.key_id}")
    if not made:
        typer.echo("every chain head is already checkpointed")


@audit_app.command("anchor")
def anchor_command(
    out: Path = typer.Option(..., "--out", help="The anchor file to write (replaced whole if it exists)."),
    db: Optional[str] = typer.Option(None, "--db", help=_DB_HELP),
) -> None:
    """Write every org's chain head (seq, entry hash), signed with the ledger's key, to an anchor file to keep outside the database.

    Signed checkpoints protect the entries up to them; nothing in the database protects the entries
    after the last one. Keep the anchor where whoever can write the database cannot; later,
    `reachguard audit verify --anchor FILE` reports BROKEN if an anchored entry is gone or changed.

    Example: reachguard audit anchor --db ./reachguard.db --out /mnt/auditor/anchor-2026-12-07.json
    """
    from reachguard.ledger.anchor import AnchorError, make_anchor, write_anchor

    settings, store = _open(db, signs=True)
    try:
        data = make_anchor(store, _signer(settings, store))
    finally:
        store.close()
    if not data["heads"]:
        typer.echo("error: the ledger is empty: nothing to anchor", err=True)
        raise typer.Exit(1)
    try:
        write_anchor(out, data)
    except AnchorError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    for org, head in data["heads"].items():
        typer.echo(f"anchored {org} seq {head['seq']} {head['entry_hash']}")
    typer.echo(f"wrote {out} (key {data['key_id']}); keep it outside the database and pass it to audit verify --anchor")


@audit_app.command("public-key")
def public_key(db: Optional[str] = typer.Option(None, "--db", help=_DB_HELP)) -> None:
    """Print the ledger's checkpoint public key (PEM), to hand to auditors.

    Example: reachguard audit public-key --db ./reachguard.db > reachguard-ledger.pub.pem
    """
    from reachguard.ledger.checkpoint import public_pem

    settings, store = _open(db, signs=True)
    try:
        signer = _signer(settings, store)
    finally:
        store.close()
    typer.echo(f"# key id {signer.key_id}", err=True)
    typer.echo(public_pem(signer.public).rstrip())
