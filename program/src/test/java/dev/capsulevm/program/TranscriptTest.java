package dev.capsulevm.program;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.capsulevm.proofs.Domain;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.Sha256;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.merkle.Merkle;
import dev.capsulevm.proofs.merkle.MerkleVerifier;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

class TranscriptTest {
  private static final DataRef H0 = new DataRef(0, 32);
  private static final DataRef H1 = new DataRef(32, 32);
  private static final byte[] HASH = filled(32, 0x5a);
  private static final byte[] ABSENT = {0};

  @Test
  void anEntryIsTheTaggedIndexInstructionDigestAndOutput() {
    Instruction has = new Instruction.HasRecord(H1);
    byte[] entry = Transcript.entry(3, has, List.of(HASH), ABSENT);
    byte[] instruction = ProgramEncoding.encodeInstruction(has);
    ByteBuffer expected = ByteBuffer.allocate(1 + 4 + 4 + 17 + 32 + 4 + 1);
    expected.put((byte) 0x35).putInt(3).putInt(17).put(instruction)
        .put(Sha256.hash(Domain.INPUTS_DIGEST, concat(longBytes(32), HASH)).toByteArray()).putInt(1).put((byte) 0);
    assertArrayEquals(expected.array(), entry);
    assertEquals(Merkle.leafHash(entry), Transcript.leaf(3, has, List.of(HASH), ABSENT));
    assertEquals(Sha256.hash(Domain.MERKLE_LEAF, entry), Transcript.leaf(3, has, List.of(HASH), ABSENT));
  }

  @Test
  void theInputsDigestLengthPrefixesEveryReference() {
    assertEquals(Sha256.hash(Domain.INPUTS_DIGEST, new byte[0]), Transcript.inputsDigest(List.of()));
    assertNotEquals(Transcript.inputsDigest(List.of(bytes("ab"), bytes("c"))),
        Transcript.inputsDigest(List.of(bytes("a"), bytes("bc"))));
    assertEquals(Sha256.hash(Domain.INPUTS_DIGEST, concat(longBytes(2), bytes("ab"), longBytes(0))),
        Transcript.inputsDigest(List.of(bytes("ab"), new byte[0])));
  }

  @Test
  void inputsMustMatchTheReferences() {
    Instruction read = new Instruction.ReadSubRecord(new RecordSelector.ByHash(H0), 1, H1);
    Transcript.entry(0, read, List.of(HASH, HASH), ABSENT);
    assertThrows(IllegalArgumentException.class, () -> Transcript.entry(0, read, List.of(HASH), ABSENT));
    assertThrows(IllegalArgumentException.class,
        () -> Transcript.entry(0, read, List.of(HASH, new byte[31]), ABSENT));
    assertThrows(IllegalArgumentException.class,
        () -> Transcript.entry(0, new Instruction.Heads(), List.of(HASH), ABSENT));
    assertThrows(IllegalArgumentException.class,
        () -> Transcript.entry(-1, new Instruction.Heads(), List.of(), ABSENT));
  }

  @Test
  void entriesOfEveryInstructionParseBack() throws Exception {
    int index = 0;
    for (Instruction instruction : ProgramDecoderTest.everyInstruction().instructions()) {
      List<byte[]> inputs = new ArrayList<>();
      for (DataRef ref : instruction.refs()) {
        inputs.add(filled((int) ref.length(), index));
      }
      byte[] output = bytes("output " + index);
      byte[] entry = Transcript.entry(index, instruction, inputs, output);
      Transcript.Entry parsed = Transcript.parseEntry(entry);
      assertEquals(index, parsed.index());
      assertEquals(instruction, parsed.instruction());
      assertArrayEquals(ProgramEncoding.encodeInstruction(instruction), parsed.instructionBytes());
      assertEquals(Transcript.inputsDigest(inputs), parsed.inputsDigest());
      assertArrayEquals(output, parsed.output());
      assertArrayEquals(entry, parsed.encoded());
      assertEquals(Merkle.leafHash(entry), parsed.leaf());
      List<byte[]> split = parsed.inputs(concat(inputs.toArray(new byte[0][])));
      assertEquals(inputs.size(), split.size());
      for (int i = 0; i < inputs.size(); i++) {
        assertArrayEquals(inputs.get(i), split.get(i));
      }
      assertEquals(parsed, Transcript.parseEntry(entry.clone()));
      index++;
    }
  }

  @Test
  void theInputsOfAnEntryMustBeExactlyTheReferencedBytes() throws Exception {
    Transcript.Entry entry = Transcript.parseEntry(Transcript.entry(0, new Instruction.HasRecord(H0), List.of(HASH),
        ABSENT));
    byte[] other = HASH.clone();
    other[0] ^= 1;
    for (byte[] bad : List.of(other, Arrays.copyOf(HASH, 31), Arrays.copyOf(HASH, 33), new byte[0])) {
      assertMalformed(() -> entry.inputs(bad));
    }
  }

  // Parse rules: each refuses an entry that breaks it.

  @Test
  void parseRefusesAnotherTag() {
    byte[] entry = hasRecordEntry();
    entry[0] = 0x34;
    assertMalformed(() -> Transcript.parseEntry(entry));
  }

  @Test
  void parseRefusesAnIndexFrom2To31() {
    byte[] entry = hasRecordEntry();
    entry[1] = (byte) 0x80;
    assertMalformed(() -> Transcript.parseEntry(entry));
  }

  @Test
  void parseRefusesInstructionBytesThatAreNotExactlyOneInstruction() {
    // The instruction length claims one byte more: the instruction has a trailing byte (its digest's first).
    byte[] longer = hasRecordEntry();
    longer[8]++;
    assertMalformed(() -> Transcript.parseEntry(longer));
    byte[] shorter = hasRecordEntry();
    shorter[8]--;
    assertMalformed(() -> Transcript.parseEntry(shorter));
    byte[] unknown = hasRecordEntry();
    unknown[9] = 99;
    assertMalformed(() -> Transcript.parseEntry(unknown));
    byte[] notAHash = hasRecordEntry();
    notAHash[9 + 16] = 31; // the reference's length, low byte
    assertMalformed(() -> Transcript.parseEntry(notAHash));
  }

  @Test
  void parseRefusesAnyOtherLength() {
    byte[] entry = hasRecordEntry();
    assertMalformed(() -> Transcript.parseEntry(Arrays.copyOf(entry, entry.length + 1)));
    for (int cut = 0; cut < entry.length; cut++) {
      int length = cut;
      assertMalformed(() -> Transcript.parseEntry(Arrays.copyOf(entry, length)));
    }
    byte[] longOutput = entry.clone();
    longOutput[entry.length - 2]++; // the output length's low byte
    assertMalformed(() -> Transcript.parseEntry(longOutput));
    byte[] hugeOutput = entry.clone();
    hugeOutput[entry.length - 5] = (byte) 0x80; // the output length's top byte
    assertMalformed(() -> Transcript.parseEntry(hugeOutput));
  }

  // The accumulator.

  @Test
  void theTranscriptAccumulatesLeavesAndProvesEach() throws Exception {
    Transcript transcript = new Transcript();
    assertEquals(0, transcript.size());
    assertEquals(Merkle.emptyRoot(), transcript.root());
    List<Hash> leaves = new ArrayList<>();
    for (int i = 0; i < 5; i++) {
      Hash leaf = Transcript.leaf(i, new Instruction.HasRecord(H0), List.of(filled(32, i)), ABSENT);
      leaves.add(leaf);
      transcript.add(leaf);
    }
    assertEquals(5, transcript.size());
    assertEquals(leaves, transcript.leaves());
    assertEquals(Merkle.rootOfLeafHashes(leaves), transcript.root());
    assertEquals(transcript.root(), Transcript.rootOf(leaves));
    for (int i = 0; i < 5; i++) {
      MerkleVerifier.verifyInclusion(leaves.get(i), transcript.inclusionProof(i), transcript.root());
    }
    assertThrows(IndexOutOfBoundsException.class, () -> transcript.inclusionProof(5));
  }

  // Helpers.

  private static byte[] hasRecordEntry() {
    return Transcript.entry(1, new Instruction.HasRecord(H0), List.of(HASH), ABSENT);
  }

  private interface Parse {
    void run() throws VerificationException;
  }

  private static void assertMalformed(Parse parse) {
    VerificationException e = assertThrows(VerificationException.class, parse::run);
    assertEquals(VerificationException.Failure.MALFORMED_ENCODING, e.failure());
  }

  private static byte[] filled(int n, int b) {
    byte[] a = new byte[n];
    Arrays.fill(a, (byte) b);
    return a;
  }

  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  private static byte[] longBytes(long v) {
    return ByteBuffer.allocate(8).putLong(v).array();
  }

  private static byte[] concat(byte[]... parts) {
    int n = 0;
    for (byte[] p : parts) {
      n += p.length;
    }
    ByteBuffer out = ByteBuffer.allocate(n);
    for (byte[] p : parts) {
      out.put(p);
    }
    return out.array();
  }
}
