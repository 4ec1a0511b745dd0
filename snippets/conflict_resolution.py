"""Conflict resolution without a lock: last-writer-wins registers in a map, and a
PN-counter, both converging whatever the order or duplication of deliveries. Pure data
structures: how the operations travel (a server, a socket, a sync file) is up to you."""

from dataclasses import dataclass, field

Stamp = tuple[int, str]  # (Lamport clock, replica id): a total order, ties broken by id


class Tombstone:
    """The value of a deleted key: unlike None (JSON null), it is not a value at all."""

    def __repr__(self) -> str:
        return "DELETED"


DELETED = Tombstone()  # a delete writes this tombstone, so it can win or lose too


@dataclass
class LWWRegister:
    value: object = DELETED
    stamp: Stamp = (0, "")

    def apply(self, value: object, stamp: Stamp) -> None:
        if stamp > self.stamp:  # the later stamp wins; a replay changes nothing
            self.value, self.stamp = value, stamp


@dataclass
class Replica:
    """One copy of a document (a map of LWW registers) and of a PN-counter."""

    id: str
    clock: int = 0
    fields: dict[str, LWWRegister] = field(default_factory=dict)
    plus: dict[str, int] = field(default_factory=dict)  # replica id -> increments
    minus: dict[str, int] = field(default_factory=dict)  # replica id -> decrements

    def set(self, key: str, value: object) -> tuple[str, object, Stamp]:
        self.clock += 1
        op = (key, value, (self.clock, self.id))
        self.receive(op)
        return op

    def delete(self, key: str) -> tuple[str, object, Stamp]:
        return self.set(key, DELETED)

    def receive(self, op: tuple[str, object, Stamp]) -> None:
        key, value, stamp = op
        self.clock = max(self.clock, stamp[0])  # Lamport: never stamp below what we saw
        self.fields.setdefault(key, LWWRegister()).apply(value, stamp)

    def view(self) -> dict[str, object]:
        return {
            k: r.value for k, r in sorted(self.fields.items()) if r.value is not DELETED
        }

    def add(self, amount: int) -> None:
        side = self.plus if amount >= 0 else self.minus
        side[self.id] = side.get(self.id, 0) + abs(amount)

    def counter_state(self) -> tuple[dict[str, int], dict[str, int]]:
        return dict(self.plus), dict(self.minus)

    def merge_counter(self, state: tuple[dict[str, int], dict[str, int]]) -> None:
        for mine, theirs in zip((self.plus, self.minus), state, strict=True):
            for replica, count in theirs.items():  # per-replica max: idempotent
                mine[replica] = max(mine.get(replica, 0), count)

    @property
    def count(self) -> int:
        return sum(self.plus.values()) - sum(self.minus.values())


if __name__ == "__main__":
    alice, bob = Replica("alice"), Replica("bob")
    for op in [alice.set("title", "Q3 plan"), alice.set("due", "2026-09-30")]:
        bob.receive(op)
    # Both edit the title while offline (equal clocks: the replica id breaks the
    # tie, "bob" > "alice"); Bob deletes the due date, Alice clears the owner (null).
    a2 = alice.set("title", "Q3 plan (draft)")
    a3 = alice.set("owner", None)
    b1 = bob.set("title", "Q3 roadmap")
    b2 = bob.delete("due")
    for op in [b2, b1, a2, b1]:  # any order, with a duplicate
        alice.receive(op)
    for op in [a3, a2, a2]:
        bob.receive(op)
    print(alice.view(), alice.view() == bob.view())
    #> {'owner': None, 'title': 'Q3 roadmap'} True

    alice.add(3)
    bob.add(2)
    stale = bob.counter_state()
    bob.add(-1)
    for state in [bob.counter_state(), stale, stale]:  # late and duplicated
        alice.merge_counter(state)
    bob.merge_counter(alice.counter_state())
    print(alice.count, bob.count)
    #> 4 4
