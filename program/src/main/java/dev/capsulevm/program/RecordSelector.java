package dev.capsulevm.program;

import java.util.List;

/** How an instruction names a record of the program's capsule: by its hash, or by its height. */
public sealed interface RecordSelector {
  /** The data references this selector reads (none for a height). */
  List<DataRef> refs();

  /** The record whose 32-byte hash is at {@code hash} in the program data. */
  record ByHash(DataRef hash) implements RecordSelector {
    public ByHash {
      Instruction.requireHashRef(hash);
    }

    @Override
    public List<DataRef> refs() {
      return List.of(hash);
    }
  }

  /**
   * The record at {@code height}. Where a fork leaves several records at that height the executor
   * refuses the selector as ambiguous; a renter names such records by hash.
   */
  record ByHeight(long height) implements RecordSelector {
    public ByHeight {
      if (height < 1) {
        throw new IllegalArgumentException("record heights start at 1, got " + height);
      }
    }

    @Override
    public List<DataRef> refs() {
      return List.of();
    }
  }
}
