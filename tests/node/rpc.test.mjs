// The local chain node as the ecosystem's own clients see it (@solana/web3.js, @solana/spl-token),
// with their default confirmation (signatureSubscribe over WebSocket on the RPC port + 1).
// Run by tests/chain/test_chain_web3js.py against a node it starts: GRIDX_RPC_URL, GRIDX_REGISTRY_ID.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import {
  Connection,
  Keypair,
  LAMPORTS_PER_SOL,
  PublicKey,
  SystemProgram,
  Transaction,
  TransactionExpiredBlockheightExceededError,
  TransactionInstruction,
  sendAndConfirmTransaction,
} from "@solana/web3.js";
import {
  TOKEN_2022_PROGRAM_ID,
  TOKEN_PROGRAM_ID,
  createMint,
  getOrCreateAssociatedTokenAccount,
  mintTo,
  transfer,
} from "@solana/spl-token";

const url = process.env.GRIDX_RPC_URL;
const registry = new PublicKey(process.env.GRIDX_REGISTRY_ID);
const conn = new Connection(url, "confirmed");
const early = await conn.getLatestBlockhash(); // expires while the other tests run

async function funded(sol = 10) {
  const kp = Keypair.generate();
  const sig = await conn.requestAirdrop(kp.publicKey, sol * LAMPORTS_PER_SOL);
  await conn.confirmTransaction({ signature: sig, ...(await conn.getLatestBlockhash()) });
  return kp;
}

function base58(bytes) {
  const alphabet = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
  let n = BigInt("0x" + Buffer.from(bytes).toString("hex"));
  let out = "";
  while (n > 0n) {
    out = alphabet[Number(n % 58n)] + out;
    n /= 58n;
  }
  for (const b of bytes) {
    if (b !== 0) break;
    out = "1" + out;
  }
  return out;
}

async function raw(method, params = []) {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
  });
  return res.json();
}

test("sendAndConfirmTransaction of a transfer, with fees and balances as charged", async () => {
  const payer = await funded();
  const cosigner = await funded(1);
  const to = Keypair.generate().publicKey;
  const tx = new Transaction().add(
    SystemProgram.transfer({ fromPubkey: payer.publicKey, toPubkey: to, lamports: 1_000_000 }),
    SystemProgram.transfer({ fromPubkey: cosigner.publicKey, toPubkey: to, lamports: 1 }),
  );
  const sig = await sendAndConfirmTransaction(conn, tx, [payer, cosigner]);
  assert.equal(await conn.getBalance(to), 1_000_001);
  const got = await conn.getTransaction(sig, { maxSupportedTransactionVersion: 0 });
  assert.equal(got.meta.fee, 10_000); // two signatures
  assert.equal(got.meta.preBalances[0] - got.meta.postBalances[0], 1_000_000 + 10_000);
});

test("getFeeForMessage counts every signature", async () => {
  const a = await funded(1);
  const b = await funded(1);
  const tx = new Transaction({ ...(await conn.getLatestBlockhash()), feePayer: a.publicKey }).add(
    SystemProgram.transfer({ fromPubkey: b.publicKey, toPubkey: a.publicKey, lamports: 1 }),
  );
  assert.equal((await conn.getFeeForMessage(tx.compileMessage())).value, 10_000);
});

test("airdrop has a transaction", async () => {
  const kp = Keypair.generate();
  const sig = await conn.requestAirdrop(kp.publicKey, LAMPORTS_PER_SOL);
  await conn.confirmTransaction({ signature: sig, ...(await conn.getLatestBlockhash()) });
  const got = await conn.getParsedTransaction(sig, { maxSupportedTransactionVersion: 0 });
  assert.equal(got.transaction.message.instructions[0].parsed.type, "transfer");
});

let mint;
let owner;
test("spl-token helpers with their default confirmation; parsed accounts and transactions", async () => {
  owner = await funded();
  const other = Keypair.generate();
  mint = await createMint(conn, owner, owner.publicKey, null, 6);
  const from = await getOrCreateAssociatedTokenAccount(conn, owner, mint, owner.publicKey);
  const to = await getOrCreateAssociatedTokenAccount(conn, owner, mint, other.publicKey);
  await mintTo(conn, owner, mint, from.address, owner, 5_000_000n);
  const sig = await transfer(conn, owner, from.address, to.address, owner, 1_250_000n);

  const parsed = await conn.getParsedTokenAccountsByOwner(owner.publicKey, { mint });
  assert.equal(parsed.value.length, 1);
  assert.equal(parsed.value[0].account.data.parsed.info.tokenAmount.uiAmountString, "3.75");
  const classic = await conn.getParsedTokenAccountsByOwner(owner.publicKey, { programId: TOKEN_PROGRAM_ID });
  assert.equal(classic.value.length, 1);
  const t22 = await conn.getParsedTokenAccountsByOwner(owner.publicKey, { programId: TOKEN_2022_PROGRAM_ID });
  assert.equal(t22.value.length, 0); // no classic account listed twice
  const info = await conn.getParsedAccountInfo(mint);
  assert.equal(info.value.data.parsed.type, "mint");
  assert.equal(info.value.data.parsed.info.supply, "5000000");

  const tx = await conn.getParsedTransaction(sig, { maxSupportedTransactionVersion: 0 });
  assert.equal(tx.transaction.message.instructions[0].parsed.type, "transfer");
  const pre = tx.meta.preTokenBalances.find((b) => b.owner === other.publicKey.toBase58());
  const post = tx.meta.postTokenBalances.find((b) => b.owner === other.publicKey.toBase58());
  assert.equal(pre.uiTokenAmount.amount, "0");
  assert.equal(post.uiTokenAmount.amount, "1250000");
  const largest = await conn.getTokenLargestAccounts(mint);
  assert.equal(largest.value[0].amount, "3750000");
});

test("onLogs receives one of our programs' events; onAccountChange fires", async () => {
  const wallet = await funded();
  const logs = new Promise((resolve) => {
    const id = conn.onLogs(registry, (l) => {
      conn.removeOnLogsListener(id);
      resolve(l);
    });
  });
  const changed = new Promise((resolve) => {
    const id = conn.onAccountChange(wallet.publicKey, (acct) => {
      conn.removeAccountChangeListener(id);
      resolve(acct);
    });
  });
  const seeds = (...s) => PublicKey.findProgramAddressSync(s, registry)[0];
  const disc = createHash("sha256").update("global:register_user").digest().subarray(0, 8);
  const ix = new TransactionInstruction({
    programId: registry,
    keys: [
      { pubkey: wallet.publicKey, isSigner: true, isWritable: true },
      { pubkey: seeds(Buffer.from("registry")), isSigner: false, isWritable: true },
      { pubkey: seeds(Buffer.from("user"), wallet.publicKey.toBuffer()), isSigner: false, isWritable: true },
      { pubkey: SystemProgram.programId, isSigner: false, isWritable: false },
    ],
    data: Buffer.concat([disc, Buffer.from([0])]),
  });
  // the node must hold both subscriptions before the transaction lands (web3.js keeps their state)
  const subscribed = () =>
    Object.values(conn._subscriptionsByHash).filter((sub) => sub.state === "subscribed").length >= 2;
  while (!subscribed()) await new Promise((r) => setTimeout(r, 10));
  const sig = await sendAndConfirmTransaction(conn, new Transaction().add(ix), [wallet]);
  const l = await logs;
  assert.equal(l.signature, sig);
  assert.equal(l.err, null);
  const event = createHash("sha256").update("event:UserRegistered").digest().subarray(0, 8);
  const data = l.logs.filter((s) => s.startsWith("Program data: ")).map((s) => Buffer.from(s.slice(14), "base64"));
  assert.ok(data.some((d) => d.subarray(0, 8).equals(event)), l.logs.join("\n"));
  assert.ok((await changed).lamports < 10 * LAMPORTS_PER_SOL);
});

test("every listed method answers in a shape web3.js accepts", async () => {
  const slot = await conn.getSlot();
  const pk = Keypair.generate().publicKey;
  assert.ok((await conn.getEpochInfo()).absoluteSlot >= slot);
  assert.ok((await conn.getEpochSchedule()).slotsPerEpoch > 0);
  const first = await conn.getFirstAvailableBlock();
  const block = await conn.getBlock(slot, { maxSupportedTransactionVersion: 0 });
  assert.ok(block.blockhash && block.parentSlot === slot - 1);
  assert.ok(await conn.getParsedBlock(slot, { maxSupportedTransactionVersion: 0 }));
  assert.ok((await conn.getBlocks(first, slot)).includes(slot));
  assert.ok((await conn.getBlockTime(slot)) > 0);
  assert.ok((await conn.getSupply()).value.total > 0);
  assert.ok((await conn.getTransactionCount()) > 0);
  assert.ok(Array.isArray(await conn.getRecentPrioritizationFees()));
  assert.ok(Array.isArray(await conn.getRecentPerformanceSamples(5)));
  assert.ok((await conn.getMinimumLedgerSlot()) <= slot);
  assert.ok(await conn.getSlotLeader());
  assert.equal((await conn.getClusterNodes()).length, 1);
  assert.deepEqual(await conn.getVoteAccounts(), { current: [], delinquent: [] });
  assert.ok(await conn.getLeaderSchedule());
  assert.ok((await conn.getBlockProduction()).value.range.lastSlot >= slot);
  assert.deepEqual(await conn.getInflationReward([pk]), [null]);
  assert.ok((await conn.getStakeMinimumDelegation()).value >= 0);
  assert.ok((await conn.getLargestAccounts()).value.length > 0);
  assert.equal((await conn.getSlotLeaders(slot, 3)).length, 3);
  assert.notEqual(await conn.getGenesisHash(), "11111111111111111111111111111111");
  assert.ok((await conn.getBlockHeight()) >= slot);
  for (const [m, p] of [
    ["getBlocksWithLimit", [first, 5]],
    ["getIdentity", []],
    ["getMaxRetransmitSlot", []],
    ["getMaxShredInsertSlot", []],
    ["getHighestSnapshotSlot", []],
    ["getTokenAccountsByDelegate", [pk.toBase58(), { programId: TOKEN_PROGRAM_ID.toBase58() }]],
  ]) {
    const r = await raw(m, p);
    assert.ok(!("error" in r), `${m}: ${JSON.stringify(r)}`);
  }
  if (mint) assert.ok((await conn.getTokenLargestAccounts(mint)).value.length > 0);
});

test("malformed JSON-RPC gets JSON-RPC errors and the node keeps serving", async () => {
  const post = (body) =>
    fetch(url, { method: "POST", headers: { "content-type": "application/json" }, body }).then((r) => r.json());
  assert.equal((await post("{not json")).error.code, -32700);
  assert.equal((await raw("noSuchMethod")).error.code, -32601);
  assert.equal((await raw("getBalance", ["not-a-key"])).error.code, -32602);
  assert.equal((await raw("getBlock", [{ no: 1 }])).error.code, -32602);
  const batch = Array.from({ length: 10_000 }, (_, i) => ({ jsonrpc: "2.0", id: i, method: "getSlot" }));
  assert.equal((await post(JSON.stringify(batch))).error.code, -32600);
  assert.ok((await conn.getSlot()) > 0);
});

test("a blockhash expires after its last valid block height", async () => {
  const payer = Keypair.generate(); // never funded: its transaction is never processed
  const tx = new Transaction({ ...early, feePayer: payer.publicKey }).add(
    SystemProgram.transfer({ fromPubkey: payer.publicKey, toPubkey: payer.publicKey, lamports: 1 }),
  );
  tx.sign(payer);
  await assert.rejects(
    conn.confirmTransaction({ signature: base58(tx.signatures[0].signature), ...early }),
    TransactionExpiredBlockheightExceededError,
  );
  assert.ok((await conn.getBlockHeight()) > early.lastValidBlockHeight);
});
