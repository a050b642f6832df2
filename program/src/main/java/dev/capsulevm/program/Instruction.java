package dev.capsulevm.program;

import dev.capsulevm.pricing.InstructionKind;
import dev.capsulevm.proofs.Hash;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/** One instruction of a program. Inputs are references into the program data. */
public sealed interface Instruction {
  /** The instruction's kind, which is also its opcode. */
  InstructionKind kind();

  /** The program data this instruction reads, in encoding order. */
  List<DataRef> refs();

  /** Whether the instruction stages writes (which makes its program read-write). */
  default boolean writes() {
    return false;
  }

  /** Whether the instruction reads the program's capsule through a snapshot. */
  default boolean needsSnapshot() {
    return false;
  }

  /** The bytes of program data the instruction reads, counting a shared reference once per use. */
  default long inputBytes() {
    long total = 0;
    for (DataRef ref : refs()) {
      total = Math.addExact(total, ref.length());
    }
    return total;
  }

  /** Stores the signed metadata at {@code signedMetadata}, creating a capsule. */
  record CreateCapsule(DataRef signedMetadata) implements Instruction {
    public CreateCapsule {
      Objects.requireNonNull(signedMetadata, "signedMetadata");
    }

    @Override
    public InstructionKind kind() {
      return InstructionKind.CREATE_CAPSULE;
    }

    @Override
    public List<DataRef> refs() {
      return List.of(signedMetadata);
    }

    @Override
    public boolean writes() {
      return true;
    }
  }

  /** Validates and stages the encoded signed records, with their sub-records, at {@code records}. */
  record AppendRecord(DataRef records) implements Instruction {
    public AppendRecord {
      Objects.requireNonNull(records, "records");
    }

    @Override
    public InstructionKind kind() {
      return InstructionKind.APPEND_RECORD;
    }

    @Override
    public List<DataRef> refs() {
      return List.of(records);
    }

    @Override
    public boolean writes() {
      return true;
    }

    @Override
    public boolean needsSnapshot() {
      return true;
    }
  }

  /** Returns sub-record {@code index} of a record, with its proof to the anchor at {@code anchor}. */
  record ReadSubRecord(RecordSelector record, long index, DataRef anchor) implements Instruction {
    public ReadSubRecord {
      Objects.requireNonNull(record, "record");
      requireIndex(index);
      requireHashRef(anchor);
    }

    @Override
    public InstructionKind kind() {
      return InstructionKind.READ_SUB_RECORD;
    }

    @Override
    public List<DataRef> refs() {
      List<DataRef> refs = new ArrayList<>(record.refs());
      refs.add(anchor);
      return List.copyOf(refs);
    }

    @Override
    public boolean needsSnapshot() {
      return true;
    }
  }

  /**
   * A proof, without data, that a record (or its sub-record {@code subRecordIndexOrNegative} when that
   * is not negative) descends from the anchor at {@code anchor}.
   */
  record Prove(DataRef anchor, RecordSelector target, long subRecordIndexOrNegative) implements Instruction {
    public Prove {
      requireHashRef(anchor);
      Objects.requireNonNull(target, "target");
      if (subRecordIndexOrNegative < 0) {
        subRecordIndexOrNegative = -1;
      }
    }

    /** A proof of the record itself. */
    public static Prove record(DataRef anchor, RecordSelector target) {
      return new Prove(anchor, target, -1);
    }

    /** Whether the proof is for a sub-record rather than the record. */
    public boolean isSubRecord() {
      return subRecordIndexOrNegative >= 0;
    }

    @Override
    public InstructionKind kind() {
      return InstructionKind.PROVE;
    }

    @Override
    public List<DataRef> refs() {
      List<DataRef> refs = new ArrayList<>();
      refs.add(anchor);
      refs.addAll(target.refs());
      return List.copyOf(refs);
    }

    @Override
    public boolean needsSnapshot() {
      return true;
    }
  }

  /** Whether the host holds the record with the hash at {@code hash}, in any capsule. */
  record HasRecord(DataRef hash) implements Instruction {
    public HasRecord {
      requireHashRef(hash);
    }

    @Override
    public InstructionKind kind() {
      return InstructionKind.HAS_RECORD;
    }

    @Override
    public List<DataRef> refs() {
      return List.of(hash);
    }
  }

  /** The record with the hash at {@code hash}, from any capsule. */
  record ReadByHash(DataRef hash) implements Instruction {
    public ReadByHash {
      requireHashRef(hash);
    }

    @Override
    public InstructionKind kind() {
      return InstructionKind.READ_BY_HASH;
    }

    @Override
    public List<DataRef> refs() {
      return List.of(hash);
    }
  }

  /** The capsule's current heads. */
  record Heads() implements Instruction {
    @Override
    public InstructionKind kind() {
      return InstructionKind.HEADS;
    }

    @Override
    public List<DataRef> refs() {
      return List.of();
    }

    @Override
    public boolean needsSnapshot() {
      return true;
    }
  }

  /**
   * The signed metadata of the program's capsule (staged or committed), which hashes to the capsule id,
   * so a reader holding only the id can check it.
   */
  record Metadata() implements Instruction {
    @Override
    public InstructionKind kind() {
      return InstructionKind.METADATA;
    }

    @Override
    public List<DataRef> refs() {
      return List.of();
    }

    @Override
    public boolean needsSnapshot() {
      return true;
    }
  }

  /** Refuses a reference that cannot hold a hash. */
  static void requireHashRef(DataRef ref) {
    Objects.requireNonNull(ref, "hash reference");
    if (ref.length() != Hash.LENGTH) {
      throw new IllegalArgumentException("a hash reference is " + Hash.LENGTH + " bytes, got " + ref.length());
    }
  }

  private static void requireIndex(long index) {
    if (index < 0) {
      throw new IllegalArgumentException("sub-record indexes are never negative, got " + index);
    }
  }
}
