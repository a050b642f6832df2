package dev.capsulevm.proofs.capsule;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.capsulevm.proofs.Domain;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.VerificationException.Failure;
import dev.capsulevm.proofs.crypto.SigningKey;
import dev.capsulevm.proofs.merkle.Merkle;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class RecordValidatorTest {
  private final TestCapsule capsule = new TestCapsule(SigningPolicy.EVERY_RECORD, 4);
  private final RecordWithBody tip = capsule.chain(capsule.id(), 11, "base");

  /** A record at height 12 after {@code tip}, signed by {@code key}, with fields as given. */
  private RecordWithBody forge(
      SigningKey key, Hash capsuleId, long height, List<Hash> parents, List<Hash> skips,
      List<byte[]> payloads, long count, Hash root) {
    RecordHeader header =
        RecordHeader.create(capsuleId, height, 1, key.publicKey(), count, root, parents, skips);
    return new RecordWithBody(
        Record.of(header, key.sign(Domain.RECORD_SIGNATURE, header.hash().toByteArray())), payloads);
  }

  private List<Hash> goodSkips() {
    return Record.expectedSkipPointers(12, tip.hash(), capsule.source);
  }

  private RecordWithBody good(SigningKey key) {
    List<byte[]> payloads = TestCapsule.payloads("x", 2);
    return forge(key, capsule.id(), 12, List.of(tip.hash()), goodSkips(), payloads, 2, Merkle.root(payloads));
  }

  private Failure failureOf(RecordWithBody item) {
    return assertThrows(
            VerificationException.class, () -> capsule.validator.validateAppend(List.of(item), capsule.source))
        .failure();
  }

  @Test
  void validate_wellFormed_accepted() throws Exception {
    capsule.validator.validateAppend(List.of(good(TestCapsule.WRITER)), capsule.source);
  }

  @Test
  void validate_eachBrokenRule_namesIt() {
    List<byte[]> two = TestCapsule.payloads("x", 2);
    Hash root = Merkle.root(two);
    List<Hash> parents = List.of(tip.hash());
    Hash someHash = Merkle.leafHash(new byte[] {9});
    List<Hash> wrongSkips = new ArrayList<>(goodSkips());
    wrongSkips.set(1, someHash);

    assertEquals(Failure.WRITER_NOT_ALLOWED, failureOf(good(TestCapsule.READER)));
    assertEquals(Failure.WRITER_NOT_ALLOWED, failureOf(good(TestCapsule.STRANGER)));
    assertEquals(Failure.WRONG_CAPSULE,
        failureOf(forge(TestCapsule.WRITER, someHash, 12, parents, goodSkips(), two, 2, root)));
    assertEquals(Failure.SUB_RECORD_ROOT_MISMATCH,
        failureOf(forge(TestCapsule.WRITER, capsule.id(), 12, parents, goodSkips(), two, 2, someHash)));
    assertEquals(Failure.SUB_RECORD_ROOT_MISMATCH,
        failureOf(forge(TestCapsule.WRITER, capsule.id(), 12, parents, goodSkips(), two, 3, root)));
    assertEquals(Failure.LIMIT_EXCEEDED,
        failureOf(forge(TestCapsule.WRITER, capsule.id(), 12, parents, goodSkips(),
            TestCapsule.payloads("y", 5), 5, Merkle.root(TestCapsule.payloads("y", 5)))));
    assertEquals(Failure.BAD_HEIGHT,
        failureOf(forge(TestCapsule.WRITER, capsule.id(), 13, parents, List.of(), two, 2, root)));
    assertEquals(Failure.BAD_SKIP_POINTER,
        failureOf(forge(TestCapsule.WRITER, capsule.id(), 12, parents, wrongSkips, two, 2, root)));
    assertEquals(Failure.BAD_PARENTS,
        failureOf(forge(TestCapsule.WRITER, capsule.id(), 12, List.of(someHash), goodSkips(), two, 2, root)));
  }

  @Test
  void validate_badSignature_rejected() {
    RecordWithBody item = good(TestCapsule.WRITER);
    byte[] signature = item.record().signatureOrNull().toByteArray();
    signature[10] ^= 1;
    RecordWithBody tampered = new RecordWithBody(
        Record.of(item.record().header(), dev.capsulevm.proofs.crypto.Signature.copyOf(signature)),
        item.payloads());
    assertEquals(Failure.BAD_SIGNATURE, failureOf(tampered));
  }

  @Test
  void withoutSignatureVerification_skipsOnlyTheSignatureCheck() throws Exception {
    RecordWithBody item = good(TestCapsule.WRITER);
    byte[] signature = item.record().signatureOrNull().toByteArray();
    signature[10] ^= 1;
    RecordWithBody tampered = new RecordWithBody(
        Record.of(item.record().header(), dev.capsulevm.proofs.crypto.Signature.copyOf(signature)),
        item.payloads());
    RecordValidator unchecked = RecordValidator.withoutSignatureVerification(capsule.metadata);
    unchecked.validateAppend(List.of(tampered), capsule.source);
    RecordWithBody unsigned = new RecordWithBody(Record.of(item.record().header(), null), item.payloads());
    assertEquals(Failure.MISSING_SIGNATURE, assertThrows(VerificationException.class,
        () -> unchecked.validateAppend(List.of(unsigned), capsule.source)).failure(), "a signature must still be there");
    List<byte[]> otherBody = List.of(new byte[] {1}, new byte[] {2});
    RecordWithBody wrongBody = new RecordWithBody(item.record(), otherBody);
    assertThrows(VerificationException.class, () -> unchecked.validateAppend(List.of(wrongBody), capsule.source),
        "every other rule still holds");
  }

  @Test
  void validate_unsignedUnderEveryRecord_missingSignature() {
    RecordWithBody item = good(TestCapsule.WRITER);
    assertEquals(
        Failure.MISSING_SIGNATURE,
        failureOf(new RecordWithBody(Record.of(item.record().header(), null), item.payloads())));
  }

  @Test
  void validate_primaryParentNotHighest_badParents() {
    RecordWithBody side = capsule.append(List.of(capsule.records.get(2).hash()), TestCapsule.payloads("s", 1));
    List<byte[]> one = TestCapsule.payloads("m", 1);
    List<Hash> parents = List.of(side.hash(), tip.hash());
    RecordWithBody merge = forge(TestCapsule.WRITER, capsule.id(), 12, parents, goodSkips(), one, 1, Merkle.root(one));
    assertEquals(Failure.BAD_PARENTS, failureOf(merge));
  }

  @Test
  void validateAppend_heartbeat_unsignedAncestorsVouchedByLast() throws Exception {
    TestCapsule heartbeat = new TestCapsule(SigningPolicy.HEARTBEAT);
    InMemoryRecordSource overlay = new InMemoryRecordSource();
    RecordSource view = h -> overlay.headerOrNull(h);
    List<RecordWithBody> append = new ArrayList<>();
    Hash parent = heartbeat.id();
    for (int i = 0; i < 5; i++) {
      Record record = Record.build(
          heartbeat.id(), List.of(parent), TestCapsule.payloads("h" + i, 1), i, TestCapsule.WRITER, i == 4, view);
      overlay.add(record.header());
      append.add(new RecordWithBody(record, TestCapsule.payloads("h" + i, 1)));
      parent = record.hash();
    }
    heartbeat.validator.validateAppend(append, heartbeat.source);

    List<RecordWithBody> lastUnsigned = new ArrayList<>(append);
    RecordWithBody last = append.get(4);
    lastUnsigned.set(4, new RecordWithBody(Record.of(last.record().header(), null), last.payloads()));
    VerificationException e = assertThrows(
        VerificationException.class, () -> heartbeat.validator.validateAppend(lastUnsigned, heartbeat.source));
    assertEquals(Failure.MISSING_SIGNATURE, e.failure());
  }

  @Test
  void validateAppend_heartbeat_unsignedSideBranch_missingSignature() {
    TestCapsule heartbeat = new TestCapsule(SigningPolicy.HEARTBEAT);
    InMemoryRecordSource overlay = new InMemoryRecordSource();
    Record side = Record.build(heartbeat.id(), List.of(heartbeat.id()), TestCapsule.payloads("a", 1), 1,
        TestCapsule.WRITER, false, overlay);
    Record signed = Record.build(heartbeat.id(), List.of(heartbeat.id()), TestCapsule.payloads("b", 1), 2,
        TestCapsule.WRITER, true, overlay);
    VerificationException e = assertThrows(VerificationException.class,
        () -> heartbeat.validator.validateAppend(List.of(
            new RecordWithBody(side, TestCapsule.payloads("a", 1)),
            new RecordWithBody(signed, TestCapsule.payloads("b", 1))), heartbeat.source));
    assertEquals(Failure.MISSING_SIGNATURE, e.failure());
  }

  @Test
  void validateAppend_failures_haveDistinctMessages() {
    Set<String> messages = new HashSet<>();
    List<byte[]> two = TestCapsule.payloads("x", 2);
    Hash root = Merkle.root(two);
    for (RecordWithBody bad : List.of(
        good(TestCapsule.STRANGER),
        forge(TestCapsule.WRITER, capsule.id(), 12, List.of(tip.hash()), goodSkips(), two, 2, Merkle.leafHash(new byte[0])),
        forge(TestCapsule.WRITER, capsule.id(), 13, List.of(tip.hash()), List.of(), two, 2, root))) {
      messages.add(assertThrows(VerificationException.class,
          () -> capsule.validator.validateAppend(List.of(bad), capsule.source)).getMessage());
    }
    assertEquals(3, messages.size());
  }

  @Test
  void validateDetached_parentIndependentRules_checkedWithoutParents() throws Exception {
    List<byte[]> two = TestCapsule.payloads("x", 2);
    Hash root = Merkle.root(two);
    Hash unknown = Merkle.leafHash(new byte[] {7});
    // Unknown parent, impossible height and skips: only validateAppend can tell.
    RecordWithBody orphan = forge(TestCapsule.WRITER, capsule.id(), 99, List.of(unknown), List.of(), two, 2, root);
    capsule.validator.validateDetached(orphan);
    assertEquals(Failure.BAD_PARENTS, failureOf(orphan));

    RecordWithBody signed = good(TestCapsule.WRITER);
    byte[] signature = signed.record().signatureOrNull().toByteArray();
    signature[3] ^= 1;
    List<RecordWithBody> bad = List.of(
        good(TestCapsule.STRANGER),
        forge(TestCapsule.WRITER, unknown, 12, List.of(tip.hash()), goodSkips(), two, 2, root),
        new RecordWithBody(Record.of(signed.record().header(),
            dev.capsulevm.proofs.crypto.Signature.copyOf(signature)), signed.payloads()),
        new RecordWithBody(Record.of(signed.record().header(), null), signed.payloads()),
        new RecordWithBody(signed.record(), TestCapsule.payloads("tampered", 2)),
        forge(TestCapsule.WRITER, capsule.id(), 12, List.of(tip.hash()), goodSkips(),
            TestCapsule.payloads("y", 5), 5, Merkle.root(TestCapsule.payloads("y", 5))));
    List<Failure> expected = List.of(Failure.WRITER_NOT_ALLOWED, Failure.WRONG_CAPSULE, Failure.BAD_SIGNATURE,
        Failure.MISSING_SIGNATURE, Failure.SUB_RECORD_ROOT_MISMATCH, Failure.LIMIT_EXCEEDED);
    for (int i = 0; i < bad.size(); i++) {
      RecordWithBody item = bad.get(i);
      assertEquals(expected.get(i), assertThrows(VerificationException.class,
          () -> capsule.validator.validateDetached(item)).failure(), "case " + i);
    }
  }

  @Test
  void validateDetached_heartbeatUnsigned_accepted() throws Exception {
    TestCapsule heartbeat = new TestCapsule(SigningPolicy.HEARTBEAT);
    Record unsigned = Record.build(heartbeat.id(), List.of(heartbeat.id()), TestCapsule.payloads("u", 1), 1,
        TestCapsule.WRITER, false, new InMemoryRecordSource());
    heartbeat.validator.validateDetached(new RecordWithBody(unsigned, TestCapsule.payloads("u", 1)));
  }
}
