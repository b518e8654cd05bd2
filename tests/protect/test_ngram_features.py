"""The batch n-gram hasher behaves like sklearn's binary, L2-normalised char HashingVectorizer."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.feature_extraction.text import HashingVectorizer

from reachguard.protect.features import CharNgramHasher

H = CharNgramHasher((1, 3), 2**18)
SK = HashingVectorizer(analyzer="char", ngram_range=(1, 3), n_features=2**18, alternate_sign=False, binary=True, norm="l2")


def test_rows_are_unit_norm_and_empty_rows_empty() -> None:
    x = H.transform(["abc", "", "【签名】验证码xxxx", "a"])
    norms = np.sqrt(np.asarray(x.multiply(x).sum(axis=1)).ravel())
    assert np.allclose(norms, [1, 0, 1, 1], atol=1e-6)
    assert x.getnnz(axis=1).tolist()[1] == 0


def test_batch_equals_one_by_one() -> None:
    texts = ["您的借款已逾期", "ab", "", "x", "回t退订😀"]
    batch = H.transform(texts).toarray()
    single = np.vstack([H.transform([t]).toarray() for t in texts])
    assert np.array_equal(batch, single)


def test_hash_terms_matches_transform() -> None:
    (idx,) = H.hash_terms(["验证码"])
    assert idx in H.transform(["验证码"]).indices


@settings(max_examples=60)
@given(st.lists(st.text(alphabet="abc贷款逾期 x【】", max_size=12), min_size=1, max_size=5))
def test_same_number_of_distinct_ngrams_as_sklearn(texts: list[str]) -> None:
    # No collisions expected among so few n-grams: the count of buckets per row must agree.
    # (sklearn collapses whitespace runs itself; our texts are already normalised, so compare
    # on whitespace-free input.)
    texts = [t.replace(" ", "") for t in texts]
    assert H.transform(texts).getnnz(axis=1).tolist() == SK.transform(texts).getnnz(axis=1).tolist()


def test_lone_surrogates_do_not_crash() -> None:
    """A JSON body may carry "\\ud800"; one bad character must not fail the whole batch."""
    x = H.transform(["a\ud800b", "ok"])
    assert x.shape[0] == 2 and x.getnnz(axis=1).tolist()[0] > 0


def test_32_bit_keys_give_the_same_matrix_as_64_bit_keys() -> None:
    """Batches up to 2^32 / n_features texts sort 32-bit keys; larger ones int64 keys. A row must
    not depend on which: the first rows of a 16,400-text batch (int64) equal the same texts
    transformed alone (uint32), indices, order and values."""
    rng = np.random.default_rng(7)
    alphabet = list("abcx贷款逾期验证码【】，。😀 ")
    texts = ["".join(rng.choice(alphabet, size=int(rng.integers(0, 30)))) for _ in range(16_400)]
    assert len(texts) * H.n_features > 2**32
    big, small = H.transform(texts), H.transform(texts[:2000])
    head = big[:2000]
    assert np.array_equal(head.indptr, small.indptr) and np.array_equal(head.indices, small.indices)
    assert np.array_equal(head.data, small.data) and head.data.dtype == small.data.dtype
    assert small.indices.dtype == big.indices.dtype == np.int32
