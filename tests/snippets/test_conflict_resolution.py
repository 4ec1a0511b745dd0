"""Conflict resolution: LWW register, LWW map and PN-counter converge under any delivery
order with duplicates (property tests)."""

import conflict_resolution as snippet
from hypothesis import given, settings
from hypothesis import strategies as st

REPLICAS = ["alice", "bob", "carol"]

DELETE = "delete"  # in a script: delete the key instead of writing a value
set_step = st.tuples(
    st.just("set"),
    st.integers(0, 2),
    st.sampled_from(["title", "due", "owner"]),
    st.one_of(st.none(), st.integers(0, 9), st.just(DELETE)),  # null is a value
)
sync_step = st.tuples(st.just("sync"), st.integers(0, 2), st.integers(0, 2))
add_step = st.tuples(st.just("add"), st.integers(0, 2), st.integers(-5, 5))


def with_duplicates(data, items):
    """A delivery schedule: every item at least once, some twice or more, any order."""
    extra = data.draw(st.lists(st.sampled_from(items), max_size=len(items))) if items else []
    return data.draw(st.permutations(items + extra))


@settings(max_examples=100, deadline=None)
@given(
    writes=st.lists(st.tuples(st.integers(0, 9), st.integers(0, 20), st.sampled_from(REPLICAS))),
    data=st.data(),
)
def test_lww_register_converges_to_the_highest_stamp(writes, data):
    ops = [(value, (clock, rid)) for value, clock, rid in writes]
    ops = list({stamp: (value, stamp) for value, stamp in ops}.values())  # stamps are unique
    finals = []
    for _ in range(3):
        register = snippet.LWWRegister()
        for value, stamp in with_duplicates(data, ops):
            register.apply(value, stamp)
        finals.append((register.value, register.stamp))
    expected = max(ops, key=lambda op: op[1]) if ops else (snippet.DELETED, (0, ""))
    assert finals == [expected] * 3


@settings(max_examples=100, deadline=None)
@given(script=st.lists(st.one_of(set_step, sync_step), max_size=40), data=st.data())
def test_lww_map_converges_whatever_the_order_and_duplication(script, data):
    replicas = [snippet.Replica(rid) for rid in REPLICAS]
    known = [[] for _ in replicas]  # ops each replica has seen, for partial syncs
    all_ops = []
    for step in script:
        if step[0] == "set":
            _, r, key, value = step
            op = replicas[r].delete(key) if value == DELETE else replicas[r].set(key, value)
            known[r].append(op)
            all_ops.append(op)
        else:
            _, src, dst = step
            for op in data.draw(st.lists(st.sampled_from(known[src]))) if known[src] else []:
                replicas[dst].receive(op)
                known[dst].append(op)
    # Finally everyone (and a brand-new replica) gets every op, shuffled and duplicated.
    replicas.append(snippet.Replica("dave"))
    for replica in replicas:
        for op in with_duplicates(data, all_ops):
            replica.receive(op)
    winners = {}
    for key, value, stamp in all_ops:
        if key not in winners or stamp > winners[key][1]:
            winners[key] = (value, stamp)
    expected = {k: v for k, (v, _) in sorted(winners.items()) if v is not snippet.DELETED}
    assert [r.view() for r in replicas] == [expected] * 4


@settings(max_examples=100, deadline=None)
@given(script=st.lists(st.one_of(add_step, sync_step), max_size=40), data=st.data())
def test_pn_counter_converges_to_the_true_total(script, data):
    replicas = [snippet.Replica(rid) for rid in REPLICAS]
    states = []  # every state ever shipped, including stale ones
    total = 0
    for step in script:
        if step[0] == "add":
            _, r, amount = step
            replicas[r].add(amount)
            total += amount
        else:
            _, src, dst = step
            replicas[dst].merge_counter(replicas[src].counter_state())
        states.extend(r.counter_state() for r in replicas)
    states.extend(r.counter_state() for r in replicas)
    replicas.append(snippet.Replica("dave"))
    for replica in replicas:
        for state in with_duplicates(data, states):
            replica.merge_counter(state)
    assert [r.count for r in replicas] == [total] * 4


def test_a_write_made_after_seeing_another_wins_over_it():
    alice, bob = snippet.Replica("alice"), snippet.Replica("bob")
    for _ in range(5):
        seen = alice.set("title", "old")
    bob.receive(seen)  # bob's clock jumps to 5 although bob never wrote
    newer = bob.set("title", "new")
    assert newer[2] == (6, "bob")
    alice.receive(newer)
    alice.receive(seen)  # a late replay of the older write
    assert alice.view() == bob.view() == {"title": "new"}


def test_duplicate_state_is_harmless_where_a_naive_sum_overcounts():
    alice, bob = snippet.Replica("alice"), snippet.Replica("bob")
    bob.add(2)
    naive = 0
    for state in [bob.counter_state()] * 3:  # the same update delivered three times
        alice.merge_counter(state)
        naive += sum(state[0].values()) - sum(state[1].values())
    assert (alice.count, naive) == (2, 6)


def test_null_is_a_value_and_a_delete_is_not():
    alice, bob = snippet.Replica("alice"), snippet.Replica("bob")
    cleared = alice.set("due", None)  # "no due date", a value the user chose
    bob.receive(cleared)
    assert alice.view() == bob.view() == {"due": None}
    deleted = bob.delete("due")
    alice.receive(deleted)
    alice.receive(cleared)  # a late replay of the older write does not resurrect it
    assert alice.view() == bob.view() == {}
    assert deleted[1] is snippet.DELETED and deleted[1] is not None


def test_a_delete_wins_or_loses_by_its_stamp_like_any_write():
    alice, bob = snippet.Replica("alice"), snippet.Replica("bob")
    base = alice.set("title", "v1")
    bob.receive(base)
    removed = bob.delete("title")  # (2, "bob")
    rewritten = alice.set("title", "v2")  # (2, "alice"): concurrent, loses the tie
    for replica in (alice, bob):
        for op in (rewritten, removed, rewritten):
            replica.receive(op)
    assert alice.view() == bob.view() == {}
    again = alice.set("title", "v3")  # made after seeing the delete: wins
    bob.receive(again)
    assert alice.view() == bob.view() == {"title": "v3"}
