package dev.capsulevm.program;

import static dev.capsulevm.pricing.FormatDocument.field;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.capsulevm.pricing.Amount;
import dev.capsulevm.pricing.BalanceStatement;
import dev.capsulevm.pricing.Fixtures;
import dev.capsulevm.pricing.FormatDocument;
import dev.capsulevm.pricing.InMemoryLedger;
import dev.capsulevm.pricing.Reservation;
import dev.capsulevm.pricing.Reservations;
import dev.capsulevm.pricing.InstructionDescriptor;
import dev.capsulevm.pricing.InstructionKind;
import dev.capsulevm.pricing.Meter;
import dev.capsulevm.pricing.PriceTable;
import dev.capsulevm.pricing.Receipt;
import dev.capsulevm.pricing.SettableClock;
import dev.capsulevm.pricing.SignedBalanceStatement;
import dev.capsulevm.pricing.SignedReceipt;
import dev.capsulevm.pricing.SignedWithdrawal;
import dev.capsulevm.pricing.Withdrawal;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.capsule.InMemoryRecordSource;
import dev.capsulevm.proofs.capsule.Metadata;
import dev.capsulevm.proofs.capsule.Permissions;
import dev.capsulevm.proofs.capsule.Record;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.proofs.capsule.SignedMetadata;
import dev.capsulevm.proofs.capsule.SigningPolicy;
import dev.capsulevm.proofs.crypto.SigningKey;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/**
 * The receipt, transcript and balance statement examples of docs/FORMAT.md, computed by the code that
 * hosts and renters run: two programs against the example capsule of "Worked examples" (creator = host
 * key, seed 32 × 0x01; writer = account key, seed 32 × 0x02), paid under the example price table.
 * Every {@code completed.*} and {@code failed.*} vector, byte table and hex block is regenerated here
 * and must appear verbatim in the document. Run {@link #main} to print them afresh.
 */
class FormatExamplesTest {
  /** The capsule examples' time (docs/FORMAT.md, "Worked examples"). */
  static final long TIME = 1_700_000_000_000L;
  /** What each response message adds to its output in these examples (the InstructionResult around it). */
  static final int ENVELOPE = 16;
  /** What the request messages add to the program, the withdrawal and the data in these examples. */
  static final int REQUEST_ENVELOPES = 30;
  /** The output bound's allowance for the InstructionResult envelope (docs/PROTOCOL.md, "Cost"). */
  static final int BOUND_ENVELOPE = 48;
  static final int NOT_FOUND = 4;

  /** Everything the examples compute, once. */
  static final class Examples {
    final Map<String, String> vectors = new LinkedHashMap<>();
    final Map<String, String> fragments = new LinkedHashMap<>();
    final Map<String, String> crossChecks = new LinkedHashMap<>();
  }

  static Examples compute() throws Exception {
    Examples e = new Examples();
    HexFormat hex = HexFormat.of();
    SigningKey host = Fixtures.HOST;
    SigningKey account = Fixtures.RENTER;
    PriceTable table = Fixtures.exampleTable();

    // The capsule and records of "Worked examples", built again here.
    SignedMetadata metadata = SignedMetadata.sign(Metadata.create(host.publicKey(), TIME, SigningPolicy.EVERY_RECORD,
        1024, 65536, Map.of(account.publicKey(), Permissions.READ | Permissions.ADD), "example"), host);
    Hash capsule = metadata.capsuleId();
    InMemoryRecordSource source = new InMemoryRecordSource();
    Hash parent = capsule;
    List<RecordWithBody> records = new ArrayList<>();
    for (int height = 1; height <= 4; height++) {
      List<byte[]> payloads = height == 1 ? List.of(bytes("a"), bytes("b"), bytes("c"))
          : List.of(bytes("record " + height));
      Record record = Record.build(capsule, List.of(parent), payloads, TIME + height, account, true, source);
      source.add(record.header());
      records.add(new RecordWithBody(record, payloads));
      parent = record.hash();
    }
    Hash record1 = records.get(0).hash();
    Hash record4 = records.get(3).hash();
    e.crossChecks.put("capsule.id", capsule.toHex());
    e.crossChecks.put("record1.hash", record1.toHex());
    e.crossChecks.put("record4.hash", record4.toHex());

    // The account: 1 CAP deposited; both programs are paid from it and settled into it.
    SettableClock clock = new SettableClock(Instant.ofEpochMilli(1_800_000_061_500L));
    InMemoryLedger ledger = new InMemoryLedger(clock, table.limits().maxBalance());
    Reservations holds = new Reservations(ledger, clock, Duration.ofHours(1), Amount.MAX);
    ledger.deposit(account.publicKey(), Amount.ofCap(1));

    // Program 1 completes: Metadata, then AppendRecord of record 1, committed.
    byte[] appendInput = AppendEncoding.encode(List.of(records.get(0)));
    DataRef appendRef = new DataRef(0, appendInput.length);
    Instruction metadataInstruction = new Instruction.Metadata();
    Instruction append = new Instruction.AppendRecord(appendRef);
    Program completed = new Program(capsule, List.of(metadataInstruction, append), appendInput.length);
    byte[] completedEncoding = ProgramEncoding.encode(completed);
    SignedWithdrawal pay1 = withdrawal(table, 70_000, 1);
    Hash completedId = ProgramEncoding.programId(completedEncoding, pay1.encode());
    e.vectors.put("completed.append-input", hex.formatHex(appendInput));
    e.vectors.put("completed.program", hex.formatHex(completedEncoding));
    e.vectors.put("completed.program-id", completedId.toHex());
    e.fragments.put("withdrawal example paying program 1", FormatDocument.hexBlock(pay1.encode()));

    Reservation held1 = holds.reserve(account.publicKey(), pay1.withdrawal().amount(), 1, pay1.withdrawal().expiry());
    Meter meter = Meter.open(table, completedId, capsule, Amount.of(70_000), completedEncoding.length, 10,
        holds.refunderFor(held1), clock);
    meter.chargeUpload(completedEncoding.length + SignedWithdrawal.LENGTH + appendInput.length + REQUEST_ENVELOPES);
    byte[] metadataOutput = OutputEncoding.encode(new Output.Metadata(metadata));
    meter.chargeInstruction(new InstructionDescriptor(InstructionKind.METADATA, 0,
        OutputBounds.metadata(metadata.encoded().length) + BOUND_ENVELOPE, 0));
    Hash leaf0 = Transcript.leaf(0, metadataInstruction, List.of(), metadataOutput);
    meter.chargeOutput(metadataOutput.length + ENVELOPE, leaf0);
    byte[] appendOutput = OutputEncoding.encode(new Output.Appended(List.of(record1)));
    meter.chargeInstruction(new InstructionDescriptor(InstructionKind.APPEND_RECORD, appendInput.length,
        OutputBounds.append(0, 1) + BOUND_ENVELOPE, appendInput.length));
    Hash leaf1 = Transcript.leaf(1, append, List.of(appendInput), appendOutput);
    meter.chargeOutput(appendOutput.length + ENVELOPE, leaf1);
    Receipt completedReceipt = meter.closeThrough(List.of(record1),
        (amount, program) -> holds.refunderFor(held1).refund(amount, program));
    SignedReceipt completedSigned = completedReceipt.sign(host);
    entryVectors(e, "completed.entry0", metadataInstruction, List.of(), metadataOutput, leaf0);
    entryVectors(e, "completed.entry1", append, List.of(appendInput), appendOutput, leaf1);
    Transcript transcript = new Transcript().add(leaf0).add(leaf1);
    e.vectors.put("completed.transcript-root", transcript.root().toHex());
    assertEquals(transcript.root(), completedReceipt.transcriptRoot());
    e.fragments.put("completed receipt rows", FormatDocument.rows(completedSigned.encode(), receiptFields(
        completedReceipt)));
    e.fragments.put("completed receipt encoding", FormatDocument.hexBlock(completedSigned.encode()));

    // Program 2 fails: HasRecord(record 4), which the host does not hold, then Prove of it from itself.
    clock.set(Instant.ofEpochMilli(1_800_000_062_250L));
    byte[] data = record4.toByteArray();
    DataRef r4 = new DataRef(0, Hash.LENGTH);
    Instruction has = new Instruction.HasRecord(r4);
    Instruction prove = new Instruction.Prove(r4, new RecordSelector.ByHash(r4), -1);
    Program failing = new Program(capsule, List.of(has, prove), data.length);
    byte[] failingEncoding = ProgramEncoding.encode(failing);
    SignedWithdrawal pay2 = withdrawal(table, 10_000, 2);
    Hash failingId = ProgramEncoding.programId(failingEncoding, pay2.encode());
    e.vectors.put("failed.withdrawal", hex.formatHex(pay2.encode()));
    e.vectors.put("failed.program", hex.formatHex(failingEncoding));
    e.vectors.put("failed.program-id", failingId.toHex());

    Reservation held2 = holds.reserve(account.publicKey(), pay2.withdrawal().amount(), 2, pay2.withdrawal().expiry());
    meter = Meter.open(table, failingId, capsule, Amount.of(10_000), failingEncoding.length, 10,
        holds.refunderFor(held2), clock);
    meter.chargeUpload(failingEncoding.length + SignedWithdrawal.LENGTH + data.length + REQUEST_ENVELOPES);
    meter.chargeInstruction(new InstructionDescriptor(InstructionKind.HAS_RECORD, Hash.LENGTH,
        OutputBounds.hasRecord(null) + BOUND_ENVELOPE, 0));
    byte[] absent = OutputEncoding.encode(new Output.Has(false, null));
    byte[] entry = Transcript.entry(0, has, List.of(data), absent);
    Hash absentLeaf = Transcript.leaf(0, has, List.of(data), absent);
    meter.chargeOutput(absent.length + ENVELOPE, absentLeaf);
    // As vm's Executor does it: Prove is charged for its inputs (the shared reference once per use) and an
    // output bound of 0 (the host holds neither anchor nor target) plus the envelope, then fails.
    meter.chargeInstruction(new InstructionDescriptor(InstructionKind.PROVE, 2L * Hash.LENGTH, BOUND_ENVELOPE, 0));
    meter.fail(1, NOT_FOUND, "instruction 1: no record " + record4);
    Receipt failedReceipt = meter.close();
    SignedReceipt failedSigned = failedReceipt.sign(host);
    e.vectors.put("failed.entry0.inputs-digest", Transcript.inputsDigest(List.of(data)).toHex());
    e.vectors.put("failed.entry0", hex.formatHex(entry));
    e.vectors.put("failed.entry0.leaf", absentLeaf.toHex());
    e.vectors.put("failed.transcript-root", Transcript.rootOf(List.of(absentLeaf)).toHex());
    byte[] hasBytes = ProgramEncoding.encodeInstruction(has);
    e.fragments.put("failed entry rows", FormatDocument.rows(entry, List.of(
        field(1, "tag `0x35`"),
        field(4, "index (u32)"),
        field(4, "instruction length L (u32)"),
        field(1, "instruction: opcode 5 (`HasRecord`)"),
        field(8, "instruction: ref offset"),
        field(8, "instruction: ref length"),
        field(32, "inputsDigest"),
        field(4, "output length O (u32)"),
        field(absent.length, "output: absent"))));
    assertEquals(1 + 16, hasBytes.length);
    e.fragments.put("failed receipt rows", FormatDocument.rows(failedSigned.encode(), receiptFields(failedReceipt)));
    e.fragments.put("failed receipt encoding", FormatDocument.hexBlock(failedSigned.encode()));

    // The account's balance statement after both.
    clock.set(Instant.ofEpochMilli(1_800_000_063_000L));
    BalanceStatement statement = BalanceStatement.of(ledger, account.publicKey(), host.publicKey(), clock);
    assertEquals(failingId, statement.lastProgramIdOrNull());
    byte[] signedStatement = statement.sign(host).encode();
    e.fragments.put("balance statement rows", FormatDocument.rows(signedStatement, List.of(
        field(1, "version = 1"),
        field(32, "hostKey"),
        field(8, "issuedAt, ms since 1970"),
        field(32, "account"),
        field(8, "balance"),
        field(32, "lastProgramId"),
        field(64, "signature: Ed25519 by hostKey over 0x37 ‖ bytes 0..112"))));
    e.fragments.put("balance statement encoding", FormatDocument.hexBlock(signedStatement));
    assertEquals(SignedBalanceStatement.LENGTH, signedStatement.length);

    // The figures the prose states.
    e.fragments.put("completed figures", figures(completedReceipt));
    e.fragments.put("failed figures", figures(failedReceipt));
    e.fragments.put("balance figure", "balance " + statement.balance().units() + " units");
    return e;
  }

  private static void entryVectors(Examples e, String name, Instruction instruction, List<byte[]> inputs,
      byte[] output, Hash leaf) {
    HexFormat hex = HexFormat.of();
    e.vectors.put(name + ".instruction", hex.formatHex(ProgramEncoding.encodeInstruction(instruction)));
    e.vectors.put(name + ".inputs-digest", Transcript.inputsDigest(inputs).toHex());
    e.vectors.put(name + ".output", hex.formatHex(output));
    e.vectors.put(name + ".leaf", leaf.toHex());
  }

  private static List<FormatDocument.Field> receiptFields(Receipt r) {
    List<FormatDocument.Field> fields = new ArrayList<>(List.of(
        field(1, "version = 2"),
        field(32, "hostKey"),
        field(8, "issuedAt, ms since 1970"),
        field(32, "programId"),
        field(32, "priceTableId"),
        field(32, "capsuleId"),
        field(8, "budget"),
        field(1, "status: 0 completed, 1 failed"),
        field(4, "instructionsCharged (u32)"),
        field(8, "uploadBytes"),
        field(8, "downloadBytes"),
        field(8, "cost.instruction"),
        field(8, "cost.bandwidth"),
        field(8, "cost.memory"),
        field(8, "cost.storage"),
        field(8, "refund"),
        field(4, "outputCount (u32)"),
        field(32, "transcriptRoot"),
        field(4, "failedInstruction (u32, `ffffffff` none)"),
        field(1, "failureReason"),
        field(2, "headCount H (u16)")));
    for (int i = 0; i < r.committedHeads().size(); i++) {
      fields.add(field(32, "head " + i));
    }
    int message = r.failureMessage().getBytes(StandardCharsets.UTF_8).length;
    fields.add(field(2, "message length M (u16)"));
    fields.add(field(message, "message (UTF-8)"));
    int bodyLength = Receipt.FIXED_BODY_LENGTH + 32 * r.committedHeads().size() + message;
    fields.add(field(64, "signature: Ed25519 by hostKey over 0x32 ‖ bytes 0.." + (bodyLength - 1)));
    return fields;
  }

  private static String figures(Receipt r) {
    return "budget " + r.budget().units() + ", cost " + r.cost().instruction().units() + " + "
        + r.cost().bandwidth().units() + " + " + r.cost().memory().units() + " + " + r.cost().storage().units()
        + " = " + r.finalCost().units() + ", refund " + r.refund().units();
  }

  private static SignedWithdrawal withdrawal(PriceTable table, long amount, long nonce) {
    return new Withdrawal(Fixtures.RENTER.publicKey(), Amount.of(amount), nonce, Fixtures.VALID_FROM.plusSeconds(600),
        table.id(), Fixtures.HOST.publicKey()).sign(Fixtures.RENTER);
  }

  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  @Test
  void theDocumentsExamplesAreTheCodes() throws Exception {
    Examples e = compute();
    Map<String, String> documented = FormatDocument.vectors();
    // The capsule these examples use is the one "Worked examples" documents.
    e.crossChecks.forEach((name, value) -> assertEquals(value, documented.get(name), name));
    Map<String, String> ours = new LinkedHashMap<>();
    documented.forEach((name, value) -> {
      if (ownedHere(name)) {
        ours.put(name, value);
      }
    });
    assertEquals(FormatDocument.vectorLines(new TreeMap<>(e.vectors)), FormatDocument.vectorLines(new TreeMap<>(ours)));
    e.fragments.forEach(FormatDocument::assertContains);
  }

  /** The vectors this test owns; proofs' FormatVectorsTest skips them. */
  static boolean ownedHere(String name) {
    return name.startsWith("completed.") || name.startsWith("failed.");
  }

  public static void main(String[] args) throws Exception {
    Examples e = compute();
    System.out.print(FormatDocument.vectorLines(e.vectors));
    e.fragments.forEach((what, text) -> System.out.println("---- " + what + "\n" + text));
  }
}
