package dev.capsulevm.proofs.capsule;

import org.jspecify.annotations.Nullable;

/** What a version-2 record holds; its code is a byte of the header. A version-1 record is always data. */
public enum RecordKind {
  /** Application data: the writer needs add. */
  DATA(0),
  /**
   * A membership change: exactly one sub-record, a change body (docs/FORMAT.md, "Members"), always
   * signed; the writer needs the right the change asks for.
   */
  MEMBERSHIP(1);

  private final int code;

  RecordKind(int code) {
    this.code = code;
  }

  /** The header byte of this kind. */
  public int code() {
    return code;
  }

  /** The kind of header byte {@code code}, or null for an unknown value. */
  public static @Nullable RecordKind fromCode(int code) {
    for (RecordKind kind : values()) {
      if (kind.code == code) {
        return kind;
      }
    }
    return null;
  }
}
