# pragma version 0.4.3
"""
@title Hash-time-locked escrow for ERC-20 tokens (one leg of a cross-chain atomic swap)
@notice A lock holds `amount` of `token` from its sender for `receiver`. Anyone may claim it
        with the secret before `deadline` (block timestamp, seconds): the tokens always go to
        the stored receiver, so a relayer can submit a claim without being able to redirect it.
        After the deadline anyone may refund it, and the tokens always go back to the sender.
        The secret is exactly 32 bytes and its SHA-256 is the hash lock: the Solana side of the
        swap applies the same rule, so no secret opens one chain's lock and not the other's.
"""

from ethereum.ercs import IERC20

PREIMAGE_LEN: constant(uint256) = 32

STATE_NONE: constant(uint8) = 0
STATE_LOCKED: constant(uint8) = 1
STATE_CLAIMED: constant(uint8) = 2
STATE_REFUNDED: constant(uint8) = 3

struct Lock:
    sender: address
    receiver: address
    token: address
    amount: uint256
    hashlock: bytes32
    deadline: uint256
    state: uint8

event Locked:
    lock_id: indexed(bytes32)
    hashlock: indexed(bytes32)
    sender: indexed(address)
    receiver: address
    token: address
    amount: uint256
    deadline: uint256

event Claimed:
    lock_id: indexed(bytes32)
    hashlock: indexed(bytes32)
    preimage: Bytes[32]
    receiver: address
    amount: uint256

event Refunded:
    lock_id: indexed(bytes32)
    hashlock: indexed(bytes32)
    sender: address
    amount: uint256

locks: public(HashMap[bytes32, Lock])
# Hash locks a sender has used: once a lock is claimed its secret is public, so a second lock by
# the same sender under it could be claimed by its receiver at once. Per sender, not global, so
# nobody can block an honest sender's lock by front-running its hash with a lock of their own.
hashlock_used: public(HashMap[address, HashMap[bytes32, bool]])
# A lock must leave at least this long before its deadline (seconds): a lock that expires
# before anyone can react is a trap for its receiver. Set at deployment.
min_duration: public(immutable(uint256))
max_duration: public(immutable(uint256))


@deploy
def __init__(min_duration_s: uint256, max_duration_s: uint256):
    assert min_duration_s > 0 and max_duration_s >= min_duration_s, "HTLC: bad durations"
    min_duration = min_duration_s
    max_duration = max_duration_s


@pure
@external
def lock_id_of(sender: address, receiver: address, token: address, amount: uint256, hashlock: bytes32, deadline: uint256) -> bytes32:
    return keccak256(abi_encode(sender, receiver, token, amount, hashlock, deadline))


@external
@nonreentrant
def lock(receiver: address, token: address, amount: uint256, hashlock: bytes32, deadline: uint256) -> bytes32:
    assert amount > 0, "HTLC: zero amount"
    assert receiver != empty(address), "HTLC: zero receiver"
    assert receiver != msg.sender, "HTLC: self swap"
    assert deadline >= block.timestamp + min_duration, "HTLC: deadline too soon"
    assert deadline <= block.timestamp + max_duration, "HTLC: deadline too far"
    assert not self.hashlock_used[msg.sender][hashlock], "HTLC: hashlock used"
    self.hashlock_used[msg.sender][hashlock] = True
    lock_id: bytes32 = keccak256(abi_encode(msg.sender, receiver, token, amount, hashlock, deadline))
    assert self.locks[lock_id].state == STATE_NONE, "HTLC: lock exists"
    self.locks[lock_id] = Lock(
        sender=msg.sender, receiver=receiver, token=token, amount=amount, hashlock=hashlock, deadline=deadline, state=STATE_LOCKED
    )
    # the escrow must hold exactly `amount`: a token that delivers less (fees) is refused
    before: uint256 = staticcall IERC20(token).balanceOf(self)
    assert extcall IERC20(token).transferFrom(msg.sender, self, amount, default_return_value=True), "HTLC: transfer failed"
    assert staticcall IERC20(token).balanceOf(self) == before + amount, "HTLC: token delivered a different amount"
    log Locked(lock_id=lock_id, hashlock=hashlock, sender=msg.sender, receiver=receiver, token=token, amount=amount, deadline=deadline)
    return lock_id


@external
@nonreentrant
def claim(lock_id: bytes32, preimage: Bytes[64]):
    # Bytes[64], not bytes32: a 31- or 33-byte secret must be refused here, not silently padded
    # or truncated by the ABI, exactly as the Solana side refuses it.
    l: Lock = self.locks[lock_id]
    assert l.state == STATE_LOCKED, "HTLC: not locked"
    assert block.timestamp < l.deadline, "HTLC: expired"
    assert len(preimage) == PREIMAGE_LEN, "HTLC: preimage must be 32 bytes"
    assert sha256(preimage) == l.hashlock, "HTLC: wrong preimage"
    self.locks[lock_id].state = STATE_CLAIMED
    assert extcall IERC20(l.token).transfer(l.receiver, l.amount, default_return_value=True), "HTLC: transfer failed"
    log Claimed(lock_id=lock_id, hashlock=l.hashlock, preimage=slice(preimage, 0, 32), receiver=l.receiver, amount=l.amount)


@external
@nonreentrant
def refund(lock_id: bytes32):
    l: Lock = self.locks[lock_id]
    assert l.state == STATE_LOCKED, "HTLC: not locked"
    assert block.timestamp >= l.deadline, "HTLC: not expired"
    self.locks[lock_id].state = STATE_REFUNDED
    assert extcall IERC20(l.token).transfer(l.sender, l.amount, default_return_value=True), "HTLC: transfer failed"
    log Refunded(lock_id=lock_id, hashlock=l.hashlock, sender=l.sender, amount=l.amount)
