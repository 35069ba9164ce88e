"""An independent check of a Flightlog server, as a witness of its log would make it.

The client trusts only a verifier key (given, or pinned on first use) and the last
checkpoint it saw itself. Each run verifies the server's newest signed checkpoint,
proves that it extends the one seen before (RFC 9162 §2.1.4 consistency against the
root kept here, never the one the server sends back), and spot-checks entries spread
over the tree: leaf hash, payload digest and inclusion in the signed root. The new
checkpoint is saved only when all of it holds.
"""

from __future__ import annotations

import contextlib
import json
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from flightlog.api import b64
from flightlog.client.http import RemoteFlightlog
from flightlog.errors import CheckpointError, EventInvalid, NoteError, ProofError, StoreError
from flightlog.events.canonical import canonical_bytes
from flightlog.files import write_private_file
from flightlog.ledger import merkle
from flightlog.ledger.checkpoint import Checkpoint, open_checkpoint
from flightlog.ledger.entry import LEAF_FIELDS, leaf_hash_of, payload_digest
from flightlog.ledger.note import Verifier, strict_b64decode

__all__ = ["WitnessReport", "WitnessState", "load_state", "state_path", "verify_remote"]

WITNESS_DIR = "witness"
DEFAULT_SAMPLE = 16
# Origins longer than this are named by their digest so the file name stays valid.
MAX_FILE_STEM = 200


@dataclass(frozen=True)
class WitnessReport:
    """What a successful remote verification established."""

    origin: str
    tree_size: int
    root: bytes
    previous_size: int | None
    entries_checked: int
    first_use: bool


@dataclass(frozen=True)
class WitnessState:
    """The last checkpoint this client verified for one origin, and the key that signed it."""

    origin: str
    tree_size: int
    root: bytes
    note: str
    verifier_key: str
    server: str | None = None

    def document(self) -> dict[str, Any]:
        """The JSON document saved in the state file."""
        return {
            "origin": self.origin,
            "tree_size": self.tree_size,
            "root": b64(self.root),
            "note": self.note,
            "verifier_key": self.verifier_key,
            "server": self.server,
        }


def _key_label(verifier: Verifier) -> str:
    """``name+keyid``: how a key is named in messages."""
    return f"{verifier.name}+{verifier.key_id:08x}"


def state_path(state_dir: Path, origin: str, server: str | None = None) -> Path:
    """Where the witness state of ``origin`` as served by ``server`` is kept.

    Keyed by server URL and origin: two servers with the same origin (the default one,
    say) are two logs, each with its own pinned key.
    """
    # Percent-encoding is injective and leaves no path separator in the name; it
    # escapes '+', so '+' separates the two parts unambiguously.
    stem = quote(origin, safe="")
    if server is not None:
        stem = quote(server, safe="") + "+" + stem
    if len(stem) > MAX_FILE_STEM:
        key = origin if server is None else f"{server}\n{origin}"
        stem = "sha256-" + payload_digest(key.encode("utf-8"))
    return state_dir / WITNESS_DIR / f"{stem}.json"


# -- the saved state ----------------------------------------------------------------------


def _parse_state(doc: Any, origin: str) -> WitnessState:
    """Validate a state document and re-verify its note with its own key."""
    if not isinstance(doc, dict):
        raise CheckpointError("it is not a JSON object")
    for name in ("origin", "root", "note", "verifier_key"):
        if not isinstance(doc.get(name), str):
            raise CheckpointError(f"{name!r} is missing or not a string")
    size = doc.get("tree_size")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise CheckpointError("'tree_size' is missing or not a non-negative integer")
    server = doc.get("server")
    if server is not None and not isinstance(server, str):
        raise CheckpointError("'server' is not a string")
    if doc["origin"] != origin:
        raise CheckpointError(f"it belongs to origin {doc['origin']!r}, not {origin!r}")
    try:
        root = strict_b64decode(doc["root"])
    except ValueError:
        raise CheckpointError("'root' is not base64") from None
    # The note and its key make the state self-checking: an edited size or root shows.
    verifier = Verifier.from_verifier_key(doc["verifier_key"])
    checkpoint = open_checkpoint(doc["note"], verifier, origin=origin)
    if checkpoint.tree_size != size or checkpoint.root_hash != root:
        raise CheckpointError("its tree size and root differ from those of its signed note")
    return WitnessState(origin, size, root, doc["note"], doc["verifier_key"], server)


def load_state(state_dir: Path, origin: str, server: str | None = None) -> WitnessState | None:
    """The saved witness state of ``origin`` at ``server``, or None; CheckpointError if corrupt."""
    path = state_path(state_dir, origin, server)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise CheckpointError(f"cannot read the witness state {path}: {exc}") from None
    try:
        return _parse_state(json.loads(text), origin)
    except (ValueError, NoteError) as exc:
        raise CheckpointError(
            f"the witness state {path} is corrupt ({exc}); move it away to start over, "
            "knowing that the next run trusts the server's key again"
        ) from None


def _save_state(state_dir: Path, state: WitnessState) -> None:
    """Save ``state`` and unbind other origins' states from its server."""
    text = json.dumps(state.document(), indent=2, sort_keys=True) + "\n"
    try:
        write_private_file(state_path(state_dir, state.origin, state.server), text.encode("utf-8"))
        if state.server is not None:
            for path, doc in _states_of_server(state_dir, state.server):
                if doc.get("origin") != state.origin:
                    # The server now serves another log (a key given explicitly was
                    # trusted); the old log's checkpoint is kept, no longer bound to it.
                    doc["server"] = None
                    body = json.dumps(doc, indent=2, sort_keys=True) + "\n"
                    write_private_file(path, body.encode("utf-8"))
    except OSError as exc:
        raise StoreError(f"cannot save the witness state under {state_dir}: {exc}") from None


def _states_of_server(state_dir: Path, server: str) -> list[tuple[Path, dict[str, Any]]]:
    """The saved state documents that name ``server`` as where their log was seen."""
    found: list[tuple[Path, dict[str, Any]]] = []
    directory = state_dir / WITNESS_DIR
    if not directory.is_dir():
        return found
    for path in sorted(directory.glob("*.json")):
        with contextlib.suppress(OSError, ValueError):
            doc = json.loads(path.read_text(encoding="utf-8"))
            if isinstance(doc, dict) and doc.get("server") == server:
                found.append((path, doc))
    return found


# -- which key to trust -------------------------------------------------------------------


def _parse_key(vkey: str, whose: str) -> Verifier:
    """Parse a verifier key, naming whose key it is when malformed."""
    try:
        return Verifier.from_verifier_key(vkey.strip())
    except NoteError as exc:
        raise NoteError(f"{whose} is not a usable verifier key: {exc}") from None


def _trusted_verifier(
    client: RemoteFlightlog, pinned_key: str | None, state_dir: Path
) -> tuple[Verifier, str]:
    """The key to trust and its text: the explicit one, else the one pinned on first use."""
    if pinned_key is not None and pinned_key.strip():
        return _parse_key(pinned_key, "the given key"), pinned_key.strip()
    offered = client.verifier_key().strip()
    verifier = _parse_key(offered, f"the key of the server at {client.base_url}")
    previous = load_state(state_dir, verifier.name, client.base_url)
    if previous is not None and previous.verifier_key != offered:
        raise _key_changed(client, previous.verifier_key, offered)
    for _, doc in _states_of_server(state_dir, client.base_url):
        if doc.get("verifier_key") != offered:
            raise _key_changed(client, str(doc.get("verifier_key")), offered)
    return verifier, offered


def _key_changed(client: RemoteFlightlog, pinned: str, offered: str) -> NoteError:
    """The error refusing a server key that differs from the one pinned on first use."""
    return NoteError(
        f"the server's key changed: this client pinned {pinned} for {client.base_url}, "
        f"but the server now presents {offered}; if the operator rotated the key, "
        "check the new key out of band and pass it with --key"
    )


# -- consistency with what was seen before ------------------------------------------------


def _hashes(values: Any, what: str) -> list[bytes]:
    """Decode a list of base64 hashes from a server answer; ProofError when malformed."""
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise ProofError(f"{what}: the server's proof is not a list of base64 hashes")
    try:
        return [strict_b64decode(v) for v in values]
    except ValueError:
        raise ProofError(f"{what}: the server's proof holds a hash that is not base64") from None


def _check_consistency(
    client: RemoteFlightlog, previous: WitnessState, checkpoint: Checkpoint
) -> None:
    """Prove that ``checkpoint`` extends the checkpoint this client saw before."""
    old, new = previous.tree_size, checkpoint.tree_size
    if new < old:
        raise ProofError(
            f"the log shrank from {old} to {new} entries since this client last checked it"
        )
    if new == old:
        if checkpoint.root_hash != previous.root:
            raise ProofError(
                f"history rewritten: the log still has {new} entries but its root changed "
                f"from {b64(previous.root)} to {b64(checkpoint.root_hash)}"
            )
        return
    # Every tree extends the empty one (RFC 9162 §2.1.4.1); the server has no proof for it.
    proof = (
        []
        if old == 0
        else _hashes(
            client.consistency_proof_document(old, new).get("proof"), f"consistency {old} → {new}"
        )
    )
    try:
        merkle.verify_consistency(old, new, previous.root, checkpoint.root_hash, proof)
    except ProofError as exc:
        raise ProofError(
            f"history rewritten: the signed tree of {new} entries does not extend the tree "
            f"of {old} entries this client saw before ({exc})"
        ) from None


# -- spot checks --------------------------------------------------------------------------


def _sample_indices(size: int, sample: int, previous_size: int | None) -> list[int]:
    """Up to ``sample`` indices: first, last, the first new one, then random ones."""
    if size == 0 or sample <= 0:
        return []
    fixed = [0, size - 1]
    if previous_size is not None and 0 < previous_size < size:
        fixed.append(previous_size)
    chosen = list(dict.fromkeys(fixed))[:sample]
    wanted = min(sample, size) - len(chosen)
    if wanted > 0:
        # An unpredictable choice: a server must not know which entries are checked.
        extra = secrets.SystemRandom().sample(range(size), min(size, wanted + len(chosen)))
        chosen.extend(i for i in extra if i not in chosen)
    return sorted(chosen[: min(sample, size)])


def _leaf(doc: Mapping[str, Any], where: str) -> dict[str, str]:
    """The leaf object of a show document, with exactly the leaf fields as strings."""
    leaf = doc.get("leaf")
    if (
        not isinstance(leaf, dict)
        or set(leaf) != set(LEAF_FIELDS)
        or not all(isinstance(v, str) for v in leaf.values())
    ):
        raise ProofError(f"{where}: the server's leaf is not an object of the fields {LEAF_FIELDS}")
    return leaf


def _check_entry(client: RemoteFlightlog, index: int, checkpoint: Checkpoint) -> None:
    """Check one entry's leaf hash, payload digest and inclusion in the signed root."""
    where = f"entry {index}"
    doc = client.show_document(index)
    if doc.get("index") != index:
        raise ProofError(f"{where}: the server answered with entry {doc.get('index')!r}")
    leaf = _leaf(doc, where)
    computed = leaf_hash_of(leaf)
    shown = doc.get("leaf_hash")
    if shown != b64(computed):
        raise ProofError(
            f"{where}: the leaf hash the server shows ({shown}) is not the hash of its leaf "
            f"({b64(computed)})"
        )
    erased, event = doc.get("erased"), doc.get("event")
    if erased is True:
        if event is not None:
            raise ProofError(f"{where}: the server marks the entry erased but still serves it")
    elif erased is False and event is not None:
        try:
            digest = payload_digest(canonical_bytes(event))
        except EventInvalid as exc:
            raise ProofError(f"{where}: the event the server serves is not JSON: {exc}") from None
        if digest != leaf["payload_sha256"]:
            raise ProofError(
                f"{where}: the event the server serves was altered: its SHA-256 {digest} "
                f"is not the digest {leaf['payload_sha256']} committed in its leaf"
            )
    else:
        raise ProofError(f"{where}: the server serves no event and does not mark it erased")
    proof_doc = client.inclusion_proof_document(index, checkpoint.tree_size)
    if proof_doc.get("tree_size") != checkpoint.tree_size:
        raise ProofError(
            f"{where}: asked for a proof in the tree of {checkpoint.tree_size} entries, "
            f"the server answered for {proof_doc.get('tree_size')!r}"
        )
    proof = _hashes(proof_doc.get("proof"), where)
    try:
        merkle.verify_inclusion(index, checkpoint.tree_size, computed, proof, checkpoint.root_hash)
    except ProofError as exc:
        raise ProofError(
            f"{where} is not included in the signed tree of {checkpoint.tree_size} entries ({exc})"
        ) from None


def _check_entries(client: RemoteFlightlog, indices: Sequence[int], checkpoint: Checkpoint) -> int:
    """Spot-check ``indices``; return how many were checked."""
    for index in indices:
        _check_entry(client, index, checkpoint)
    return len(indices)


# -- the whole check ----------------------------------------------------------------------


def verify_remote(
    client: RemoteFlightlog,
    *,
    pinned_key: str | None,
    state_dir: Path,
    sample: int = DEFAULT_SAMPLE,
) -> WitnessReport:
    """Verify the server's latest checkpoint against the trusted key and this client's history."""
    verifier, vkey = _trusted_verifier(client, pinned_key, state_dir)
    note = client.checkpoint_note()
    try:
        checkpoint = open_checkpoint(note, verifier, origin=verifier.name)
    except NoteError as exc:
        raise type(exc)(
            f"the server's checkpoint does not verify with the trusted key "
            f"{_key_label(verifier)}: {exc}"
        ) from None
    previous = load_state(state_dir, checkpoint.origin, client.base_url)
    if previous is not None:
        _check_consistency(client, previous, checkpoint)
    previous_size = previous.tree_size if previous is not None else None
    indices = _sample_indices(checkpoint.tree_size, sample, previous_size)
    checked = _check_entries(client, indices, checkpoint)
    _save_state(
        state_dir,
        WitnessState(
            origin=checkpoint.origin,
            tree_size=checkpoint.tree_size,
            root=checkpoint.root_hash,
            note=note,
            verifier_key=vkey,
            server=client.base_url,
        ),
    )
    return WitnessReport(
        origin=checkpoint.origin,
        tree_size=checkpoint.tree_size,
        root=checkpoint.root_hash,
        previous_size=previous_size,
        entries_checked=checked,
        first_use=previous is None,
    )
