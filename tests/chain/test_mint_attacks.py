"""The mint contract on chain (DESIGN §4): only meter-signed energy, each window once, in time
order. Every attack fails with its named error and moves no token, no supply, no fee."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable

import pytest
from nacl.signing import SigningKey
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair

import gridx.chain as c
from gridx.errors import ChainError
from tests.helpers.chain import (
    EDGE,
    RATED_W,
    REGISTERED_AT,
    T0,
    MeterChain,
    Svm,
    World,
    assert_refused,
    build_world,
    meter_pubkey,
    register_meter_ixs,
)

Attack = tuple[list[Instruction], list[Keypair]]
MAX_WH = RATED_W * 900 // 3600  # what a 5 kW meter can produce in 15 minutes


@pytest.fixture
def w() -> World:
    return build_world()


def _enrol(w: World, rated_w: int = RATED_W, edge: str = EDGE) -> MeterChain:
    m = MeterChain(meter_id="m-2")
    w.svm.send(
        register_meter_ixs(w.prosumer, w.authority, m.key, edge, rated_w), [w.prosumer, w.authority], at=REGISTERED_AT
    )
    return m


def _swap(ix: Instruction, index: int, meta: AccountMeta) -> Instruction:
    metas = list(ix.accounts)
    metas[index] = meta
    return Instruction(ix.program_id, ix.data, metas)


# ---------------------------------------------------------------- signatures
def _forged_signature(w: World) -> Attack:
    r = w.meter_chain.reading(T0, 1000)
    return w.mint_ixs([c.SignedReading(r.canonical, bytes(64))]), [w.gateway]


def _missing_signature(w: World) -> Attack:
    return w.mint(T0, 1000)[1:], [w.gateway]


def _signed_by_other_meter(w: World) -> Attack:
    other = _enrol(w)
    r = other.reading(T0, 1000)  # other's valid signature, offered as w.meter's reading
    _, mint = w.mint_ixs([r])
    return [c.ed25519_ix(bytes(other.pubkey), [r.sig], spans=[(1, *c.mint_data([r])[1][0])]), mint], [w.gateway]


def _signature_over_other_bytes(w: World) -> Attack:
    honest = w.meter_chain.reading(T0, 100)  # a genuine small reading, verified where it lies...
    inflated = w.meter_chain.reading(T0, MAX_WH)  # ...while the mint carries other bytes
    check = c.ed25519_ix(bytes(w.meter), honest.sig, honest.canonical)
    return [check, w.mint_ixs([inflated])[1]], [w.gateway]


def _check_not_right_before(w: World) -> Attack:
    check, mint = w.mint_ixs([w.meter_chain.reading(T0, 1000)], first_index=1)  # spans point at index 2
    return [check, c.build_register_user_ix(w.gateway.pubkey(), c.CONSUMER), mint], [w.gateway]


# ---------------------------------------------------------------- windows
def _overlapping_window(w: World) -> Attack:
    w.svm.send(w.mint(T0, 1000), [w.gateway])
    return w.mint(T0 + 450, 1000), [w.gateway]


def _same_window_again(w: World) -> Attack:
    w.svm.send(w.mint(T0, 1000), [w.gateway])
    return w.mint(T0, 1000), [w.gateway]


def _earlier_after_later(w: World) -> Attack:
    w.svm.send(w.mint(T0 + 900, 1000), [w.gateway])
    return w.mint(T0, 1000), [w.gateway]


def _shorter_window(w: World) -> Attack:
    return w.mint_ixs([w.meter_chain.reading(T0, 100, seconds=450)]), [w.gateway]


def _longer_window(w: World) -> Attack:
    return w.mint_ixs([w.meter_chain.reading(T0, 100, seconds=1800)]), [w.gateway]


def _one_second_window(w: World) -> Attack:
    return w.mint_ixs([w.meter_chain.reading(T0, 1, seconds=1)]), [w.gateway]


def _unaligned_window(w: World) -> Attack:
    return w.mint(T0 + 1, 1000), [w.gateway]


def _future_window(w: World) -> Attack:
    start = (int(time.time()) // 900 + 1) * 900
    return w.mint(start, 1000), [w.gateway]


def _before_registration(w: World) -> Attack:
    return w.mint(REGISTERED_AT - 900, 1000), [w.gateway]


def _two_windows_out_of_order(w: World) -> Attack:
    a, b = w.meter_chain.reading(T0 + 900, 1000), w.meter_chain.reading(T0, 1000)
    return w.mint_ixs([a, b]), [w.gateway]


# ---------------------------------------------------------------- amounts
def _over_rated_power(w: World) -> Attack:
    return w.mint(T0, MAX_WH + 1), [w.gateway]


def _no_surplus(w: World) -> Attack:
    return w.mint(T0, 500, 500), [w.gateway]


def _negative_consumption(w: World) -> Attack:
    return w.mint(T0, 500, -10_000), [w.gateway]


# ---------------------------------------------------------------- who may mint
def _minter_of_other_edge(w: World) -> Attack:
    other = w.svm.funded()
    w.svm.send([c.build_add_minter_ix(w.admin.pubkey(), other.pubkey(), "edge-2")], [w.admin])
    ixs = w.mint_ixs([w.meter_chain.reading(T0, 1000)], minter=other, edge="edge-2")
    return ixs, [other]


def _unauthorised_minter(w: World) -> Attack:
    rogue = w.svm.funded()
    return w.mint_ixs([w.meter_chain.reading(T0, 1000)], minter=rogue), [rogue]


def _revoked_meter(w: World) -> Attack:
    w.svm.send([c.build_set_meter_status_ix(w.authority.pubkey(), w.meter, c.METER_REVOKED)], [w.authority])
    return w.mint(T0, 1000), [w.gateway]


def _foreign_mint_state(w: World) -> Attack:
    other = _enrol(w)
    w.svm.send(w.mint_ixs([other.reading(T0 + 900, 10)], meter=other.pubkey), [w.gateway])
    check, mint = w.mint(T0, 1000)
    return [check, _swap(mint, 5, AccountMeta(c.mint_state_pda(other.pubkey), False, True))], [w.gateway]


def _mint_to_strangers_account(w: World) -> Attack:
    check, mint = w.mint(T0, 1000)
    return [check, _swap(mint, 8, AccountMeta(c.ata_address(w.consumer.pubkey(), w.grxe), False, True))], [w.gateway]


def _fake_instructions_sysvar(w: World) -> Attack:
    check, mint = w.mint(T0, 1000)
    return [check, _swap(mint, 11, AccountMeta(w.prosumer.pubkey(), False, False))], [w.gateway]


ATTACKS: dict[str, tuple[str, Callable[[World], Attack]]] = {
    "forged_signature": ("InvalidSignature", _forged_signature),
    "missing_signature": ("MissingMeterSignature", _missing_signature),
    "signature_by_another_enrolled_meter": ("WrongSigner", _signed_by_other_meter),
    "valid_signature_over_other_bytes": ("SignedBytesMismatch", _signature_over_other_bytes),
    "signature_check_not_right_before": ("MissingMeterSignature", _check_not_right_before),
    "overlapping_window": ("WindowAlreadyMinted", _overlapping_window),
    "same_window_again": ("WindowAlreadyMinted", _same_window_again),
    "earlier_window_after_later": ("WindowAlreadyMinted", _earlier_after_later),
    "window_shorter_than_interval": ("WindowLengthMismatch", _shorter_window),
    "window_longer_than_interval": ("WindowLengthMismatch", _longer_window),
    "one_second_window": ("WindowLengthMismatch", _one_second_window),
    "unaligned_window": ("WindowNotAligned", _unaligned_window),
    "future_window": ("WindowInFuture", _future_window),
    "window_before_registration": ("WindowBeforeRegistration", _before_registration),
    "two_windows_out_of_order": ("WindowAlreadyMinted", _two_windows_out_of_order),
    "over_rated_power": ("ExceedsRatedPower", _over_rated_power),
    "no_surplus": ("ZeroAmount", _no_surplus),
    "negative_consumption": ("MalformedReading", _negative_consumption),
    "minter_of_another_edge": ("WrongEdge", _minter_of_other_edge),
    "unauthorised_minter": ("NotMinter", _unauthorised_minter),
    "revoked_meter": ("MeterNotActive", _revoked_meter),
    "foreign_mint_state": ("MeterMismatch", _foreign_mint_state),
    "mint_to_strangers_account": ("InvalidTokenAccount", _mint_to_strangers_account),
    "fake_instructions_sysvar": ("InvalidProgramAccount", _fake_instructions_sysvar),
}


@pytest.mark.parametrize("name", list(ATTACKS))
def test_mint_attack_refused_and_changes_nothing(w: World, name: str) -> None:
    code, setup = ATTACKS[name]
    ixs, signers = setup(w)
    assert_refused(w, code, ixs, signers)


def test_replay_of_a_whole_transaction_is_refused(w: World) -> None:
    blockhash, _ = w.svm.chain.latest_blockhash()
    tx = c.build_tx(w.mint(T0, 1000), [w.gateway], blockhash)
    assert w.svm.chain.send(tx).err is None
    before = w.snapshot()
    res = w.svm.chain.send(tx)  # the very same bytes again
    assert res.err is not None
    code = c.chain_error(res.err, res.logs, [c.ED25519_PROGRAM_ID, c.program_ids().energy_token]).code
    assert code in ("WindowAlreadyMinted", "AlreadyProcessed")
    assert w.snapshot() == before


# ---------------------------------------------------------------- what does mint
def test_consecutive_windows_mint_in_one_instruction_with_the_amount_computed_on_chain(w: World) -> None:
    big = _enrol(w, rated_w=200_000)  # 200 kW: room for the seed scenarios in one 15-minute window
    readings = [big.reading(T0, 15_000, 8_000), big.reading(T0 + 900, 25_500, 10_200), big.reading(T0 + 1800, 10, 20)]
    owner_ata = c.ata_address(w.prosumer.pubkey(), w.grxe)
    before = w.svm.balance(owner_ata)
    w.svm.send(w.mint_ixs(readings[:2], meter=big.pubkey), [w.gateway])
    assert w.svm.balance(owner_ata) - before == 7_000_000 + 15_300_000
    state = w.svm.decoded("energy_token", c.mint_state_pda(big.pubkey))
    assert state.next_window_start == T0 + 1800 and state.windows_minted == 2  # type: ignore[attr-defined]
    last = hashlib.sha256(readings[1].canonical).hexdigest()  # = the third reading's prev_hash
    assert bytes(state.last_reading_hash).hex() == last  # type: ignore[attr-defined]
    # a deficit window mints nothing: the instruction is refused as a whole
    with pytest.raises(ChainError) as exc:
        w.svm.send(w.mint_ixs(readings[2:], meter=big.pubkey), [w.gateway])
    assert exc.value.code == "ZeroAmount"


def test_mint_event_commits_to_the_last_reading(w: World) -> None:
    r1, r2 = w.meter_chain.reading(T0, 100), w.meter_chain.reading(T0 + 900, 200)
    res = w.svm.send(w.mint_ixs([r1, r2]), [w.gateway])
    (ev,) = [e for e in c.decode_events(res.logs) if e.name == "TokensMinted"]
    assert (ev.data.window_start, ev.data.window_end, ev.data.windows, ev.data.amount) == (T0, T0 + 1800, 2, 300_000)
    assert bytes(ev.data.last_reading_hash).hex() == w.meter_chain.prev
    assert (ev.data.first_seq, ev.data.last_seq) == (1, 2)


# ---------------------------------------------------------------- enrolment and initialisation
def test_enrolling_a_key_without_its_signature_is_refused(w: World) -> None:
    key = SigningKey.generate()
    ixs = register_meter_ixs(w.prosumer, w.authority, key)
    assert_refused(w, "MissingProofOfPossession", ixs[1:], [w.prosumer, w.authority])
    msg = c.enrolment_message(meter_pubkey(key), w.prosumer.pubkey(), EDGE)
    thief = SigningKey.generate()  # a valid signature over the right message, by another key
    stolen = c.ed25519_ix(thief.verify_key.encode(), bytes(thief.sign(msg).signature), msg)
    assert_refused(w, "MissingProofOfPossession", [stolen, ixs[1]], [w.prosumer, w.authority])
    forged = c.ed25519_ix(key.verify_key.encode(), bytes(64), msg)
    assert_refused(w, "InvalidSignature", [forged, ixs[1]], [w.prosumer, w.authority])
    proof_for_other_owner = register_meter_ixs(w.consumer, w.authority, key)[0]
    assert_refused(w, "MissingProofOfPossession", [proof_for_other_owner, ixs[1]], [w.prosumer, w.authority])


@pytest.mark.parametrize(
    ("rated", "interval", "code"),
    [
        (10_000_001, 900, "InvalidRatedPower"),
        (0, 900, "InvalidRatedPower"),
        (5000, 7, "InvalidInterval"),
        (5000, 0, "InvalidInterval"),
    ],
)
def test_meter_parameters_are_bounded(w: World, rated: int, interval: int, code: str) -> None:
    ixs = register_meter_ixs(w.prosumer, w.authority, SigningKey.generate(), rated_w=rated, interval_s=interval)
    assert_refused(w, code, ixs, [w.prosumer, w.authority])


def test_only_the_deployer_initialises() -> None:
    svm = Svm()
    squatter = svm.funded()
    for ix in (
        c.build_registry_initialize_ix(squatter.pubkey(), squatter.pubkey()),
        c.build_energy_token_initialize_ix(squatter.pubkey(), squatter.pubkey()),
    ):
        with pytest.raises(ChainError) as exc:
            svm.send([ix], [squatter])
        assert exc.value.code == "NotDeployer"
    assert svm.data(c.registry_config_pda()) is None and svm.data(c.token_config_pda()) is None


def test_authority_rotation_takes_two_steps(w: World) -> None:
    new, stranger = w.svm.funded(), w.svm.funded()
    w.svm.send([c.build_propose_authority_ix(w.authority.pubkey(), new.pubkey())], [w.authority])
    with pytest.raises(ChainError) as exc:
        w.svm.send([c.build_accept_authority_ix(stranger.pubkey())], [stranger])
    assert exc.value.code == "NoPendingAuthority"
    assert w.svm.decoded("registry", c.registry_config_pda()).authority == w.authority.pubkey()  # type: ignore[attr-defined]
    w.svm.send([c.build_accept_authority_ix(new.pubkey())], [new])
    cfg = w.svm.decoded("registry", c.registry_config_pda())
    assert cfg.authority == new.pubkey()  # type: ignore[attr-defined]
    with pytest.raises(ChainError) as exc:  # the old authority is out
        w.svm.send([c.build_set_meter_status_ix(w.authority.pubkey(), w.meter, c.METER_REVOKED)], [w.authority])
    assert exc.value.code == "Unauthorized"


def test_operator_changes_on_chain(w: World) -> None:
    """Revoke and un-revoke, rated power and interval changes (the registry's operator commands)."""
    w.svm.send([c.build_set_meter_status_ix(w.authority.pubkey(), w.meter, c.METER_REVOKED)], [w.authority])
    w.svm.send([c.build_set_meter_status_ix(w.authority.pubkey(), w.meter, c.METER_ACTIVE)], [w.authority])
    w.svm.send(w.mint(T0, MAX_WH), [w.gateway])
    w.svm.send([c.build_update_meter_ix(w.authority.pubkey(), w.meter, rated_power_w=2 * RATED_W)], [w.authority])
    w.svm.send(w.mint(T0 + 900, 2 * MAX_WH), [w.gateway])
    w.svm.send([c.build_update_meter_ix(w.authority.pubkey(), w.meter, interval_s=3600)], [w.authority])
    assert_refused(w, "WindowLengthMismatch", w.mint(T0 + 1800, 10), [w.gateway])
    w.svm.send(w.mint_ixs([w.meter_chain.reading(T0 + 3600, 10, seconds=3600)]), [w.gateway])
    assert_refused(
        w,
        "InvalidRatedPower",
        [c.build_update_meter_ix(w.authority.pubkey(), w.meter, rated_power_w=10**8)],
        [w.authority],
    )


def test_key_rotation_revokes_the_old_key_and_enrols_the_new_one_atomically(w: World) -> None:
    w.svm.send(w.mint(T0, 100), [w.gateway])
    new = MeterChain(meter_id="m-1")
    proof = c.sign_enrolment(new.key, w.prosumer.pubkey(), EDGE)
    ixs = c.build_replace_meter_ixs(
        w.prosumer.pubkey(), w.authority.pubkey(), w.meter, new.pubkey, EDGE.encode(), RATED_W, 900, proof
    )
    w.svm.send(ixs, [w.prosumer, w.authority], at=REGISTERED_AT)  # [revoke old, proof, register new]
    assert_refused(w, "MeterNotActive", w.mint(T0 + 900, 100), [w.gateway])
    w.svm.send(w.mint_ixs([new.reading(T0 + 900, 100)], meter=new.pubkey, first_index=0), [w.gateway])
