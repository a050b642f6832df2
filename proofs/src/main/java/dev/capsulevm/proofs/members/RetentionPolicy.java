package dev.capsulevm.proofs.members;

import dev.capsulevm.proofs.CanonicalReader;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.VerificationException.Failure;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * What a capsule keeps of its data records' payloads: everything ({@link #NONE}), the newest N heights, or
 * records newer than D milliseconds. Carried in the member state (and so in its root), set by a
 * superadmin's set-retention change.
 *
 * @param value 0 exactly when the mode is {@link Mode#NONE}; otherwise 1 to 2^63 - 1
 */
public record RetentionPolicy(Mode mode, long value) {
  /** Keep everything. */
  public static final RetentionPolicy NONE = new RetentionPolicy(Mode.NONE, 0);

  /** How {@link #value()} is read. */
  public enum Mode {
    /** No retention limit; the value is 0. */
    NONE(0),
    /** Keep the payloads of the newest {@code value} heights. */
    KEEP_HEIGHTS(1),
    /** Keep the payloads of records newer than {@code value} milliseconds. */
    KEEP_MILLIS(2);

    private final int code;

    Mode(int code) {
      this.code = code;
    }

    /** The byte that encodes the mode. */
    public int code() {
      return code;
    }

    /** The mode with this code, or null for an unknown one. */
    public static @Nullable Mode fromCode(int code) {
      for (Mode mode : values()) {
        if (mode.code == code) {
          return mode;
        }
      }
      return null;
    }
  }

  /**
   * @throws IllegalArgumentException when the value is negative, or is 0 for a limiting mode, or not 0
   *     for {@link Mode#NONE}
   */
  public RetentionPolicy {
    Objects.requireNonNull(mode, "mode");
    String problem = problemOrNull(mode, value);
    if (problem != null) {
      throw new IllegalArgumentException(problem);
    }
  }

  /** Keep the payloads of the newest {@code heights} heights, at least 1. */
  public static RetentionPolicy keepHeights(long heights) {
    return new RetentionPolicy(Mode.KEEP_HEIGHTS, heights);
  }

  /** Keep the payloads of records newer than {@code millis} milliseconds, at least 1. */
  public static RetentionPolicy keepMillis(long millis) {
    return new RetentionPolicy(Mode.KEEP_MILLIS, millis);
  }

  /**
   * Whether this policy, as the state before a witness record X holds it, lets a host drop the payloads
   * of a data record R (docs/PROTOCOL.md, "Retention"): X is at least as high as R and, keeping heights,
   * {@code X.height >= R.height + N}; keeping milliseconds, {@code X.timestamp >= R.timestamp + D}.
   * Never under {@link #NONE}. Headers alone decide it, so a reader checks a host's "dropped" without a
   * clock. (Whether R is a data record is the caller's check.)
   */
  public boolean letsDrop(long recordHeight, long recordTimestampMillis, long witnessHeight,
      long witnessTimestampMillis) {
    if (mode == Mode.NONE || witnessHeight < recordHeight) {
      return false;
    }
    if (mode == Mode.KEEP_HEIGHTS) {
      return witnessHeight - recordHeight >= value; // heights are positive: no overflow
    }
    if (witnessTimestampMillis < recordTimestampMillis) {
      return false;
    }
    long elapsed = witnessTimestampMillis - recordTimestampMillis;
    // A difference past 2^63 - 1 wraps negative; it is then longer than any value.
    return elapsed < 0 || elapsed >= value;
  }

  /** Why {@code value} does not suit {@code mode}, or null when it does. */
  static @Nullable String problemOrNull(Mode mode, long value) {
    if (value < 0) {
      return "retention value " + Long.toUnsignedString(value) + " is not below 2^63";
    }
    if (mode == Mode.NONE && value != 0) {
      return "retention mode none takes value 0, got " + value;
    }
    if (mode != Mode.NONE && value == 0) {
      return "retention mode " + mode + " needs a value of at least 1";
    }
    return null;
  }

  /** Reads a retention mode byte and u64 value, as the change body and the entry proof hold them. */
  static RetentionPolicy read(CanonicalReader in) throws VerificationException {
    int code = in.u8("retention mode");
    long value = in.u64("retention value");
    Mode mode = Mode.fromCode(code);
    if (mode == null) {
      throw new VerificationException(
          Failure.MALFORMED_ENCODING, "unknown retention mode " + code + " (expected 0, 1 or 2)");
    }
    String problem = problemOrNull(mode, value);
    if (problem != null) {
      throw new VerificationException(Failure.MALFORMED_ENCODING, problem);
    }
    return new RetentionPolicy(mode, value);
  }
}
