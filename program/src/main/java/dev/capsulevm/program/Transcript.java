package dev.capsulevm.program;

import dev.capsulevm.proofs.CanonicalReader;
import dev.capsulevm.proofs.Domain;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.Sha256;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.merkle.InclusionProof;
import dev.capsulevm.proofs.merkle.Merkle;
import dev.capsulevm.proofs.merkle.MerkleTree;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * The transcript of a program (docs/FORMAT.md, "Transcript"): one entry per output the host sent, in
 * order, binding the output to the instruction and the input bytes it answers; the receipt signs the
 * RFC 9162 root over the entries, so one signed receipt vouches for every output, and an inclusion proof
 * shows any single one to a third party.
 *
 * <pre>
 * entry        = 0x35 ‖ u32 index ‖ u32 L ‖ instruction (L bytes) ‖ inputsDigest ‖ u32 O ‖ output (O bytes)
 * inputsDigest = H(0x36 ‖ for each ref of the instruction, in encoding order: u64 length ‖ its bytes)
 * leaf         = H(0x00 ‖ entry)
 * </pre>
 *
 * An instance accumulates the leaves of one program's outputs, as the renter receives them: its root
 * and size are what the receipt must state. Not thread-safe.
 */
public final class Transcript {
  private final List<Hash> leaves = new ArrayList<>();

  /** An empty transcript. */
  public Transcript() {}

  /** Appends the leaf of the next output. */
  public Transcript add(Hash leaf) {
    leaves.add(Objects.requireNonNull(leaf, "leaf"));
    return this;
  }

  /** How many outputs the transcript holds: a receipt's {@code outputCount}. */
  public int size() {
    return leaves.size();
  }

  /** The leaves so far, in order. */
  public List<Hash> leaves() {
    return List.copyOf(leaves);
  }

  /** The RFC 9162 root over the leaves so far: a receipt's {@code transcriptRoot}. */
  public Hash root() {
    return rootOf(leaves);
  }

  /** The RFC 9162 inclusion proof of leaf {@code index} in the transcript as it is now. */
  public InclusionProof inclusionProof(int index) {
    Objects.checkIndex(index, leaves.size());
    return MerkleTree.ofLeafHashes(leaves).inclusionProof(index);
  }

  /** The RFC 9162 root over {@code leaves}; {@code H("")} for none. */
  public static Hash rootOf(List<Hash> leaves) {
    return Merkle.rootOfLeafHashes(leaves);
  }

  /**
   * The entry of the output of instruction {@code index}.
   *
   * @param refBytesInOrder the bytes each of the instruction's references points at, in the order
   *     {@link Instruction#refs()} lists them (its encoding order)
   * @param output the output's canonical bytes ({@link OutputEncoding})
   * @throws IllegalArgumentException when the bytes do not match the references in number or length
   */
  public static byte[] entry(int index, Instruction instruction, List<byte[]> refBytesInOrder, byte[] output) {
    byte[] head = entryHead(index, instruction, refBytesInOrder, output);
    byte[] entry = Arrays.copyOf(head, Math.addExact(head.length, output.length));
    System.arraycopy(output, 0, entry, head.length, output.length);
    return entry;
  }

  /** The leaf of {@link #entry}: {@code H(0x00 ‖ entry)}, hashed without copying the output into an entry. */
  public static Hash leaf(int index, Instruction instruction, List<byte[]> refBytesInOrder, byte[] output) {
    return Sha256.hash(Domain.MERKLE_LEAF, entryHead(index, instruction, refBytesInOrder, output), output);
  }

  /** An entry's bytes before the output's: the tag, the index, the instruction, the inputs digest, the output's length. */
  private static byte[] entryHead(int index, Instruction instruction, List<byte[]> refBytesInOrder, byte[] output) {
    Objects.requireNonNull(output, "output");
    if (index < 0) {
      throw new IllegalArgumentException("an instruction index is never negative, got " + index);
    }
    requireMatchingRefs(instruction, refBytesInOrder);
    byte[] encoded = ProgramEncoding.encodeInstruction(instruction);
    Hash digest = inputsDigest(refBytesInOrder);
    ByteBuffer out = ByteBuffer.allocate(1 + 4 + 4 + encoded.length + Hash.LENGTH + 4);
    out.put(Domain.TRANSCRIPT_ENTRY.tag());
    out.putInt(index);
    out.putInt(encoded.length);
    out.put(encoded);
    out.put(digest.toByteArray());
    out.putInt(output.length);
    return out.array();
  }

  /**
   * {@code H(0x36 ‖ for each ref: u64 length ‖ bytes)} over the referenced bytes in order; {@code H(0x36)}
   * for an instruction without references.
   */
  public static Hash inputsDigest(List<byte[]> refBytesInOrder) {
    Objects.requireNonNull(refBytesInOrder, "refBytesInOrder");
    byte[][] parts = new byte[2 * refBytesInOrder.size()][];
    for (int i = 0; i < refBytesInOrder.size(); i++) {
      byte[] bytes = refBytesInOrder.get(i);
      parts[2 * i] = ByteBuffer.allocate(8).putLong(bytes.length).array();
      parts[2 * i + 1] = bytes;
    }
    return Sha256.hash(Domain.INPUTS_DIGEST, parts);
  }

  /**
   * Parses exactly one entry: the tag, an index below 2^31, the bytes of exactly one canonical
   * instruction, the digest and the output bytes, nothing after. The output's own layout is checked by
   * {@link OutputEncoding#decode} against {@link Entry#instruction()}.
   */
  public static Entry parseEntry(byte[] entry) throws VerificationException {
    Objects.requireNonNull(entry, "entry");
    CanonicalReader in = new CanonicalReader(entry, "transcript entry");
    int tag = in.u8("tag");
    if (tag != (Domain.TRANSCRIPT_ENTRY.tag() & 0xff)) {
      throw malformed("transcript entry starts with " + tag + ", not the tag " + Domain.TRANSCRIPT_ENTRY.tag());
    }
    long index = in.u32("index");
    if (index > Integer.MAX_VALUE) {
      throw malformed("transcript entry index " + index + " is not below 2^31");
    }
    byte[] encoded = in.bytes(length(in, "instruction length"), "instruction");
    Instruction instruction;
    try {
      instruction = ProgramDecoder.decodeInstruction(encoded);
    } catch (ProgramException e) {
      throw malformed("transcript entry instruction: " + e.getMessage());
    }
    Hash digest = in.hash("inputs digest");
    byte[] output = in.bytes(length(in, "output length"), "output");
    in.end();
    return new Entry((int) index, instruction, encoded, digest, output);
  }

  /** A parsed transcript entry. Equal when the entries' bytes are. */
  public static final class Entry {
    private final int index;
    private final Instruction instruction;
    private final byte[] instructionBytes;
    private final Hash inputsDigest;
    private final byte[] output;

    private Entry(int index, Instruction instruction, byte[] instructionBytes, Hash inputsDigest, byte[] output) {
      this.index = index;
      this.instruction = instruction;
      this.instructionBytes = instructionBytes;
      this.inputsDigest = inputsDigest;
      this.output = output;
    }

    /** The index of the instruction the output answers. */
    public int index() {
      return index;
    }

    /** The instruction, decoded from {@link #instructionBytes()}. */
    public Instruction instruction() {
      return instruction;
    }

    /** The instruction's canonical bytes, as the program encoding holds them (a copy). */
    public byte[] instructionBytes() {
      return instructionBytes.clone();
    }

    /** The digest of the bytes the instruction's references point at. */
    public Hash inputsDigest() {
      return inputsDigest;
    }

    /** The output's canonical bytes (a copy). */
    public byte[] output() {
      return output.clone();
    }

    /** The entry's canonical bytes. */
    public byte[] encoded() {
      ByteBuffer out = ByteBuffer.allocate(1 + 4 + 4 + instructionBytes.length + Hash.LENGTH + 4 + output.length);
      out.put(Domain.TRANSCRIPT_ENTRY.tag()).putInt(index).putInt(instructionBytes.length).put(instructionBytes)
          .put(inputsDigest.toByteArray()).putInt(output.length).put(output);
      return out.array();
    }

    /** The entry's leaf in the transcript tree: {@code H(0x00 ‖ entry)}. */
    public Hash leaf() {
      return Merkle.leafHash(encoded());
    }

    /**
     * Splits {@code concatenated} into the bytes of each of the instruction's references, in order, after
     * checking that it is exactly as long as the references and hashes to {@link #inputsDigest()}.
     *
     * @throws VerificationException MALFORMED_ENCODING when the lengths do not add up or the digest differs
     */
    public List<byte[]> inputs(byte[] concatenated) throws VerificationException {
      List<byte[]> parts = new ArrayList<>();
      long at = 0;
      for (DataRef ref : instruction.refs()) {
        if (ref.length() > concatenated.length - at) {
          throw malformed("the inputs end inside reference " + parts.size() + " of " + instruction.kind());
        }
        parts.add(Arrays.copyOfRange(concatenated, (int) at, (int) (at + ref.length())));
        at += ref.length();
      }
      if (at != concatenated.length) {
        throw malformed((concatenated.length - at) + " bytes of inputs after the references of " + instruction.kind());
      }
      if (!Transcript.inputsDigest(parts).equals(inputsDigest)) {
        throw malformed("the inputs do not hash to the entry's inputs digest " + inputsDigest);
      }
      return parts;
    }

    @Override
    public boolean equals(@Nullable Object o) {
      return o instanceof Entry other && index == other.index && Arrays.equals(instructionBytes, other.instructionBytes)
          && inputsDigest.equals(other.inputsDigest) && Arrays.equals(output, other.output);
    }

    @Override
    public int hashCode() {
      return Objects.hash(index, Arrays.hashCode(instructionBytes), inputsDigest, Arrays.hashCode(output));
    }

    @Override
    public String toString() {
      return "Transcript.Entry[index=" + index + ", " + instruction + ", inputs " + inputsDigest + ", output "
          + output.length + " bytes]";
    }
  }

  private static void requireMatchingRefs(Instruction instruction, List<byte[]> refBytesInOrder) {
    Objects.requireNonNull(instruction, "instruction");
    Objects.requireNonNull(refBytesInOrder, "refBytesInOrder");
    List<DataRef> refs = instruction.refs();
    if (refs.size() != refBytesInOrder.size()) {
      throw new IllegalArgumentException(instruction.kind() + " has " + refs.size() + " references, got "
          + refBytesInOrder.size() + " inputs");
    }
    for (int i = 0; i < refs.size(); i++) {
      if (refs.get(i).length() != refBytesInOrder.get(i).length) {
        throw new IllegalArgumentException("reference " + i + " of " + instruction.kind() + " is "
            + refs.get(i).length() + " bytes, its input " + refBytesInOrder.get(i).length);
      }
    }
  }

  private static int length(CanonicalReader in, String field) throws VerificationException {
    long length = in.u32(field);
    if (length > Integer.MAX_VALUE) {
      throw malformed("transcript entry " + field + " " + length + " is not below 2^31");
    }
    return (int) length;
  }

  private static VerificationException malformed(String message) {
    return new VerificationException(VerificationException.Failure.MALFORMED_ENCODING, message);
  }
}
