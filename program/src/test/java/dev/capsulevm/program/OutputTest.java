package dev.capsulevm.program;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.capsule.CapsuleFixture;
import dev.capsulevm.proofs.capsule.Record;
import dev.capsulevm.proofs.capsule.RecordHeader;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.proofs.capsule.SigningPolicy;
import dev.capsulevm.proofs.capsule.TestCapsule;
import dev.capsulevm.proofs.capsule.V2Capsule;
import dev.capsulevm.proofs.integrity.ProofGenerator;
import dev.capsulevm.proofs.integrity.RecordProof;
import dev.capsulevm.proofs.integrity.SubRecordProof;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

class OutputTest {
  private final CapsuleFixture f = new CapsuleFixture("output");
  private final RecordWithBody record = f.record(List.of(f.id()), "sub", 2);
  private final SubRecordProof proof =
      new SubRecordProof(new RecordProof(List.of(record.record().header())), record.tree().inclusionProof(1));

  @Test
  void subRecordsAreEqualByTheirPayloadsBytes() throws Exception {
    Output.SubRecord a = new Output.SubRecord(bytes("payload"), proof);
    Output.SubRecord b = new Output.SubRecord(bytes("payload"), proof);
    assertEquals(a, b);
    assertEquals(a.hashCode(), b.hashCode());
    assertNotEquals(a, new Output.SubRecord(bytes("other"), proof));
    assertEquals(a, OutputEncoding.decode(
        new Instruction.ReadSubRecord(new RecordSelector.ByHeight(1), 1, new DataRef(0, 32)),
        OutputEncoding.encode(a)));
  }

  /**
   * An inclusion index or tree size above 2^63 - 1 (negative as a Java long) is malformed input, refused
   * as such: it used to escape as the IllegalArgumentException of InclusionProof's constructor.
   */
  @Test
  void inclusionNumbersBeyondSignedRangeAreRefusedAsMalformed() {
    byte[] encoded = OutputEncoding.encode(new Output.SubRecord(bytes("payload"), proof));
    // The inclusion proof ends the output: u64 index, u64 tree size, u32 count, one 32-byte hash.
    int indexAt = encoded.length - (8 + 8 + 4 + 32);
    Instruction read = new Instruction.ReadSubRecord(new RecordSelector.ByHeight(1), 1, new DataRef(0, 32));
    Instruction prove = new Instruction.Prove(new DataRef(0, 32), new RecordSelector.ByHeight(1), 1);
    for (int at : new int[] {indexAt, indexAt + 8}) {
      for (long value : new long[] {Long.MIN_VALUE, -1}) {
        byte[] tampered = encoded.clone();
        ByteBuffer.wrap(tampered).putLong(at, value);
        for (Instruction instruction : List.of(read, prove)) {
          byte[] output = instruction == read ? tampered : withoutPayload(tampered);
          assertThrows(VerificationException.class, () -> OutputEncoding.decode(instruction, output),
              instruction.kind() + ", offset " + at + ", value " + value);
        }
      }
    }
  }

  @Test
  void metadataRoundTripsAndItsBoundIsItsExactSize() throws Exception {
    Output.Metadata metadata = new Output.Metadata(f.metadata);
    byte[] encoded = OutputEncoding.encode(metadata);
    assertEquals(OutputBounds.metadata(f.metadata.encoded().length), encoded.length);
    assertEquals(ByteBuffer.wrap(encoded).getInt(0), f.metadata.encoded().length);
    assertEquals(metadata, OutputEncoding.decode(new Instruction.Metadata(), encoded));
  }

  @Test
  void metadataOutputsAreParsedStrictly() {
    byte[] good = OutputEncoding.encode(new Output.Metadata(f.metadata));
    byte[] badSignature = good.clone();
    badSignature[badSignature.length - 1] ^= 1;
    byte[] longerPrefix = good.clone();
    longerPrefix[3]++;
    for (byte[] bad : List.of(Arrays.copyOf(good, good.length + 1), Arrays.copyOf(good, good.length - 1),
        Arrays.copyOf(good, 3), longerPrefix, badSignature)) {
      assertThrows(VerificationException.class, () -> OutputEncoding.decode(new Instruction.Metadata(), bad));
    }
  }

  @Test
  void hasRecordAndReadByHashBoundsAreTheExactSizeHeldOrNot() {
    Record signed = record.record();
    Record unsigned = CapsuleFixture.unsigned(record).record();
    RecordHeader header = signed.header();
    assertEquals(OutputEncoding.encode(new Output.Has(true, header)).length, OutputBounds.hasRecord(header));
    assertEquals(OutputEncoding.encode(new Output.Has(false, null)).length, OutputBounds.hasRecord(null));
    assertEquals(1, OutputBounds.hasRecord(null));
    assertEquals(OutputEncoding.encode(new Output.ByHash(signed, 2)).length, OutputBounds.readByHash(signed));
    assertEquals(OutputEncoding.encode(new Output.ByHash(unsigned, 2)).length, OutputBounds.readByHash(unsigned));
    assertEquals(OutputEncoding.encode(new Output.ByHash(null, 0)).length, OutputBounds.readByHash(null));
    assertEquals(OutputBounds.ABSENT, OutputBounds.readByHash(null));
    // The worst cases for a renter that does not hold the header: the same layout around the largest header.
    long largerHeader = OutputBounds.MAX_HEADER_BYTES - header.encodedLength();
    assertEquals(OutputBounds.HAS_RECORD, OutputBounds.hasRecord(header) + largerHeader);
    assertEquals(OutputBounds.READ_BY_HASH, OutputBounds.readByHash(signed) + largerHeader);
  }

  @Test
  void aRecordProofCarriesItsWritersEntryAfterTheHeadersAndItsBoundIsItsSize() throws Exception {
    V2Capsule capsule = new V2Capsule(SigningPolicy.EVERY_RECORD);
    RecordWithBody first = capsule.appendOne(capsule.data(TestCapsule.WRITER, List.of(capsule.id()), "one"));
    RecordWithBody second = capsule.appendOne(capsule.data(TestCapsule.CREATOR, List.of(first.hash()), "two"));
    RecordProof v2 = new ProofGenerator(capsule.source, capsule.memberStates()).recordProof(second.hash(), first.hash());
    Instruction prove = new Instruction.Prove(new DataRef(0, 32), new RecordSelector.ByHeight(1), -1);
    byte[] encoded = OutputEncoding.encode(new Output.Proof(v2, null));
    byte[] entry = v2.writerEntryOrNull().encode();
    assertEquals(OutputBounds.proof(v2, false), encoded.length);
    assertEquals(entry.length, ByteBuffer.wrap(encoded).getInt(encoded.length - entry.length - 4));
    assertEquals(new Output.Proof(v2, null), OutputEncoding.decode(prove, encoded));
    // Without the entry (a renter that does not know the member state) the bound allows the largest one.
    RecordProof bare = new RecordProof(v2.headers());
    assertEquals(OutputBounds.proof(v2, false) - entry.length + OutputBounds.MAX_MEMBER_ENTRY_BYTES,
        OutputBounds.proof(bare, false));
    assertEquals(OutputEncoding.encode(new Output.Proof(bare, null)).length + OutputBounds.MAX_MEMBER_ENTRY_BYTES,
        OutputBounds.proof(bare, false));
    assertEquals(new Output.Proof(bare, null), OutputEncoding.decode(prove, OutputEncoding.encode(new Output.Proof(bare, null))));

    // A version-1 proof ends with an empty entry: its length, 0.
    RecordProof v1 = new RecordProof(List.of(record.record().header()));
    byte[] v1Encoded = OutputEncoding.encode(new Output.Proof(v1, null));
    assertEquals(OutputBounds.proof(v1, false), v1Encoded.length);
    assertEquals(0, ByteBuffer.wrap(v1Encoded).getInt(v1Encoded.length - 4));
    // An entry after a version-1 target, or one longer than any valid entry, is refused.
    byte[] v1WithEntry = new byte[v1Encoded.length + entry.length];
    System.arraycopy(v1Encoded, 0, v1WithEntry, 0, v1Encoded.length);
    System.arraycopy(entry, 0, v1WithEntry, v1Encoded.length, entry.length);
    ByteBuffer.wrap(v1WithEntry).putInt(v1Encoded.length - 4, entry.length);
    assertThrows(VerificationException.class, () -> OutputEncoding.decode(prove, v1WithEntry));
    byte[] tooLong = encoded.clone();
    ByteBuffer.wrap(tooLong).putInt(encoded.length - entry.length - 4, (int) OutputBounds.MAX_MEMBER_ENTRY_BYTES + 1);
    assertThrows(VerificationException.class, () -> OutputEncoding.decode(prove, tooLong));
    assertThrows(VerificationException.class, () -> OutputEncoding.decode(prove, Arrays.copyOf(encoded, encoded.length - 1)));
  }

  /** A ReadSubRecord output as the Prove output with the same proof: the payload's length and bytes dropped. */
  private static byte[] withoutPayload(byte[] readOutput) {
    int payloadLength = ByteBuffer.wrap(readOutput).getInt(0);
    byte[] out = new byte[readOutput.length - 4 - payloadLength];
    System.arraycopy(readOutput, 4 + payloadLength, out, 0, out.length);
    return out;
  }

  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }
}
