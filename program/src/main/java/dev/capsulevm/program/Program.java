package dev.capsulevm.program;

import dev.capsulevm.proofs.Hash;
import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * A program: the capsule it runs against (null when none is named, as for a program that only creates a
 * capsule or reads by hash), its instructions, and the length of its program data.
 */
public final class Program {
  private final @Nullable Hash capsuleIdOrNull;
  private final List<Instruction> instructions;
  private final long dataLength;
  private final long[] lowestOffsetFrom;

  /**
   * @throws IllegalArgumentException when a reference reaches past {@code dataLength}; the decoder
   *     reports the same thing as a {@link ProgramException}
   */
  public Program(@Nullable Hash capsuleIdOrNull, List<Instruction> instructions, long dataLength) {
    this.capsuleIdOrNull = capsuleIdOrNull;
    this.instructions = List.copyOf(Objects.requireNonNull(instructions, "instructions"));
    if (dataLength < 0) {
      throw new IllegalArgumentException("data length is never negative, got " + dataLength);
    }
    this.dataLength = dataLength;
    int n = this.instructions.size();
    this.lowestOffsetFrom = new long[n + 1];
    lowestOffsetFrom[n] = dataLength;
    for (int i = n - 1; i >= 0; i--) {
      long lowest = lowestOffsetFrom[i + 1];
      for (DataRef ref : this.instructions.get(i).refs()) {
        if (!ref.fitsIn(dataLength)) {
          throw new IllegalArgumentException("instruction " + i + " references " + ref
              + " outside " + dataLength + " bytes of program data");
        }
        if (ref.length() > 0) {
          lowest = Math.min(lowest, ref.offset());
        }
      }
      lowestOffsetFrom[i] = lowest;
    }
  }

  /** The capsule the program runs against, or null. */
  public @Nullable Hash capsuleIdOrNull() {
    return capsuleIdOrNull;
  }

  public List<Instruction> instructions() {
    return instructions;
  }

  public long dataLength() {
    return dataLength;
  }

  /** Whether no instruction writes, so the program may run in parallel with others on a snapshot. */
  public boolean isReadOnly() {
    for (Instruction instruction : instructions) {
      if (instruction.writes()) {
        return false;
      }
    }
    return true;
  }

  /** Whether some instruction reads the program's capsule through a snapshot. */
  public boolean needsSnapshot() {
    for (Instruction instruction : instructions) {
      if (instruction.needsSnapshot()) {
        return true;
      }
    }
    return false;
  }

  /**
   * The lowest offset that instruction {@code index} or any later one references ({@link #dataLength()}
   * when none does): once instruction {@code index - 1} has finished, the data below it can be released.
   */
  public long lowestOffsetReferencedFrom(int index) {
    return lowestOffsetFrom[Objects.checkIndex(index, lowestOffsetFrom.length)];
  }

  @Override
  public boolean equals(@Nullable Object o) {
    return o instanceof Program p && Objects.equals(capsuleIdOrNull, p.capsuleIdOrNull)
        && instructions.equals(p.instructions) && dataLength == p.dataLength;
  }

  @Override
  public int hashCode() {
    return Objects.hash(capsuleIdOrNull, instructions, dataLength);
  }

  @Override
  public String toString() {
    return "Program[capsule=" + capsuleIdOrNull + ", " + instructions.size() + " instructions, "
        + dataLength + " data bytes]";
  }
}
