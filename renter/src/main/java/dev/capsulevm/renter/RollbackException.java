package dev.capsulevm.renter;

import dev.capsulevm.renter.evidence.Evidence;
import java.nio.file.Path;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * The host rolled a capsule back: by its own signed answers it no longer holds a head this renter
 * verified earlier (or names only lower heads). The two contradicting receipts are the {@link #evidence()},
 * which anyone can check offline ({@code capsulevm evidence verify}); {@link #fileOrNull()} is where the SDK
 * wrote it, when it was given a directory.
 */
public final class RollbackException extends RenterException {
  private static final long serialVersionUID = 1L;

  private final transient Evidence evidence;
  private final transient @Nullable Path fileOrNull;

  RollbackException(Evidence evidence) {
    this(evidence, null);
  }

  private RollbackException(Evidence evidence, @Nullable Path fileOrNull) {
    super("the host rolled capsule " + evidence.capsuleId() + " back: "
        + (evidence.kind() == Evidence.Kind.DENIED_RECORD ? "it denies holding" : "its heads all lie below")
        + " record " + evidence.record().hash() + " (height " + evidence.record().height()
        + "), which it earlier vouched for" + (fileOrNull == null ? "" : "; evidence written to " + fileOrNull));
    this.evidence = Objects.requireNonNull(evidence, "evidence");
    this.fileOrNull = fileOrNull;
  }

  /** The same rollback, saying where its evidence was written. */
  RollbackException writtenTo(Path file) {
    RollbackException e = new RollbackException(evidence, file);
    e.setStackTrace(getStackTrace());
    return e;
  }

  public Evidence evidence() {
    return evidence;
  }

  public @Nullable Path fileOrNull() {
    return fileOrNull;
  }
}
