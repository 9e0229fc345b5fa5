"""sim.testing output checkers: multisets compared by stable representation, per-key order, capped reports."""

from __future__ import annotations

from sim.testing import (Check, CheckResult, Verdict, Violation, ViolationKind as K, check_exactly_once,
                         check_no_loss, count_duplicates)

REFERENCE = [("a", 1), ("b", 1), ("a", 2), ("b", 2), ("a", 3)]


def kinds(result: CheckResult) -> list[K]:
    return [v.kind for v in result.violations]


def test_exactly_once_holds_for_the_same_values_in_another_order():
    result = check_exactly_once(list(reversed(REFERENCE)), REFERENCE)
    assert result.ok and bool(result)
    assert result.verdict is Verdict.HELD and result.check is Check.EXACTLY_ONCE
    assert result.explain() == "exactly-once: held (5 values in the output, 5 in the reference)"


def test_exactly_once_reports_missing_duplicate_and_unexpected_values_with_counts():
    output = [("b", 1), ("a", 2), ("a", 2), ("a", 2), ("b", 2), ("a", 3), ("z", 9)]  # ("a", 1) lost
    result = check_exactly_once(output, REFERENCE)
    assert not result and result.verdict is Verdict.VIOLATED
    assert kinds(result) == [K.MISSING_VALUE, K.DUPLICATE_VALUE, K.UNEXPECTED_VALUE]
    assert [v.message for v in result.violations] == [
        "value ('a', 1) is missing: expected 1 copy (as in the reference), found 0 copies",
        "value ('a', 2) is duplicated: expected 1 copy (as in the reference), found 3 copies",
        "value ('z', 9) is not in the reference: expected 0 copies (as in the reference), found 1 copy",
    ]
    assert result.violations[0].entities == ("('a', 1)",)
    assert result.kind_counts == ((K.MISSING_VALUE, 1), (K.DUPLICATE_VALUE, 1), (K.UNEXPECTED_VALUE, 1))


def test_violations_are_sorted_by_representation_and_capped_per_kind():
    reference = list(range(30))
    result = check_exactly_once([], reference, limit=4)
    assert [v.entities[0] for v in result.violations] == ["0", "1", "10", "11"]  # sorted as text: deterministic
    assert result.total == 30 and len(result.violations) == 4
    assert result.explain().splitlines()[0] == "exactly-once: violated: 30 x missing value (0 values in the " \
                                               "output, 30 in the reference)"
    assert result.explain().splitlines()[-1] == "  ... and 26 more not listed"


def test_values_are_compared_by_stable_representation():
    """Unhashable values work; sets compare whatever their iteration order; 1 and 1.0 are different values."""
    assert check_exactly_once([{"k": [1, 2]}, {3, 1, 2}], [{1, 2, 3}, {"k": [1, 2]}])
    result = check_exactly_once([1.0], [1])
    assert kinds(result) == [K.MISSING_VALUE, K.UNEXPECTED_VALUE]


def test_long_values_are_cut_in_messages_but_kept_whole_in_entities():
    value = "x" * 500
    (violation,) = check_exactly_once([], [value]).violations
    assert len(violation.message) < 250 and "..." in violation.message
    assert violation.entities == (repr(value),)


def test_key_order_holds_when_only_the_interleaving_of_keys_changes():
    output = [("b", 1), ("b", 2), ("a", 1), ("a", 2), ("a", 3)]
    assert check_exactly_once(output, REFERENCE, key=lambda v: v[0])


def test_key_order_changed_names_the_key_and_the_first_position():
    output = [("a", 1), ("a", 3), ("b", 1), ("b", 2), ("a", 2)]
    result = check_exactly_once(output, REFERENCE, key=lambda v: v[0])
    assert kinds(result) == [K.KEY_ORDER_CHANGED]
    (violation,) = result.violations
    assert violation.message == ("key 'a': value 2 of 3 is out of order: expected ('a', 2) (as in the reference), "
                                 "found ('a', 3)")
    assert violation.entities == ("'a'", "('a', 2)", "('a', 3)")
    assert check_exactly_once(output, REFERENCE).ok  # without a key, order is not compared


def test_a_key_with_missing_values_is_not_reported_again_as_reordered():
    output = [("a", 3), ("a", 2), ("b", 1), ("b", 2)]  # ("a", 1) lost, and the rest of "a" reordered
    result = check_exactly_once(output, REFERENCE, key=lambda v: v[0])
    assert kinds(result) == [K.MISSING_VALUE]


def test_no_loss_allows_extra_copies_and_counts_them():
    output = REFERENCE + [("a", 1), ("a", 1), ("q", 0)]
    result = check_no_loss(output, REFERENCE)
    assert result.ok and result.check is Check.NO_LOSS
    assert result.summary == "8 values in the output, 5 in the reference, 2 extra copies"


def test_no_loss_fails_on_a_missing_copy():
    result = check_no_loss([("a", 1), ("b", 1), ("a", 2), ("b", 2)], REFERENCE + [("a", 1)])
    assert kinds(result) == [K.MISSING_VALUE, K.MISSING_VALUE]
    assert result.violations[0].message == ("value ('a', 1) is missing: expected 2 copies (as in the reference), "
                                            "found 1 copy")
    assert result.total == 2  # ('a', 3) is missing too


def test_count_duplicates_counts_extra_copies_of_reference_values_only():
    assert count_duplicates(REFERENCE, REFERENCE) == 0
    assert count_duplicates(REFERENCE + REFERENCE[:2] + [("a", 1), ("new", 0)], REFERENCE) == 3
    assert count_duplicates([], REFERENCE) == 0


def test_a_violation_prints_as_its_message():
    violation = Violation(K.MISSING_VALUE, "value 1 is missing: expected 1 copy, found 0 copies")
    assert str(violation) == violation.message
