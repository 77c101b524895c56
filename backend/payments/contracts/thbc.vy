# pragma version 0.4.3
"""
@title THBC: a Thai baht stablecoin (ERC-20)
@notice Minting is reserved to the issuer (the party that holds the baht reserve); the issuer
        role moves only by a two-step handover, so a typo cannot strand it.
        6 decimals: one satang is 10**4 base units (exact), and GRX/GRXE on Solana also have 6
        decimals, so a GRX amount times an integer THB/GRX rate is an exact THBC amount with no
        rounding at match time (2 decimals could not express 0.000001 GRX x 10 THB).
"""

from ethereum.ercs import IERC20

implements: IERC20

event Transfer:
    sender: indexed(address)
    receiver: indexed(address)
    value: uint256

event Approval:
    owner: indexed(address)
    spender: indexed(address)
    value: uint256

event IssuerProposed:
    current: indexed(address)
    proposed: indexed(address)

event IssuerChanged:
    previous: indexed(address)
    current: indexed(address)

name: public(constant(String[32])) = "Thai Baht Coin"
symbol: public(constant(String[8])) = "THBC"
decimals: public(constant(uint8)) = 6

balanceOf: public(HashMap[address, uint256])
allowance: public(HashMap[address, HashMap[address, uint256]])
totalSupply: public(uint256)
issuer: public(address)
pending_issuer: public(address)


@deploy
def __init__():
    self.issuer = msg.sender


@internal
def _transfer(sender: address, receiver: address, amount: uint256):
    assert receiver != empty(address), "THBC: transfer to zero address"
    # checked arithmetic: underflow reverts (insufficient balance)
    self.balanceOf[sender] -= amount
    self.balanceOf[receiver] += amount
    log Transfer(sender=sender, receiver=receiver, value=amount)


@external
def transfer(receiver: address, amount: uint256) -> bool:
    self._transfer(msg.sender, receiver, amount)
    return True


@external
def transferFrom(sender: address, receiver: address, amount: uint256) -> bool:
    allowed: uint256 = self.allowance[sender][msg.sender]
    if allowed != max_value(uint256):
        self.allowance[sender][msg.sender] = allowed - amount
    self._transfer(sender, receiver, amount)
    return True


@external
def approve(spender: address, amount: uint256) -> bool:
    self.allowance[msg.sender][spender] = amount
    log Approval(owner=msg.sender, spender=spender, value=amount)
    return True


@external
def mint(receiver: address, amount: uint256):
    assert msg.sender == self.issuer, "THBC: only the issuer mints"
    assert receiver != empty(address), "THBC: mint to zero address"
    self.totalSupply += amount
    self.balanceOf[receiver] += amount
    log Transfer(sender=empty(address), receiver=receiver, value=amount)


@external
def burn(amount: uint256):
    """@notice The holder redeems: burning takes baht out of circulation."""
    self.balanceOf[msg.sender] -= amount
    self.totalSupply -= amount
    log Transfer(sender=msg.sender, receiver=empty(address), value=amount)


@external
def propose_issuer(proposed: address):
    assert msg.sender == self.issuer, "THBC: only the issuer"
    self.pending_issuer = proposed
    log IssuerProposed(current=msg.sender, proposed=proposed)


@external
def accept_issuer():
    assert msg.sender == self.pending_issuer, "THBC: not the proposed issuer"
    log IssuerChanged(previous=self.issuer, current=msg.sender)
    self.issuer = msg.sender
    self.pending_issuer = empty(address)
