package dev.capsulevm.renter;

import dev.capsulevm.renter.evidence.Evidence;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
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

  /**
   * Writes the evidence to a new file under {@code dirOrNull} and returns the same rollback naming it; with
   * no directory, returns this one.
   */
  RollbackException writtenUnder(@Nullable Path dirOrNull, long nowMillis) throws RenterException {
    if (dirOrNull == null) {
      return this;
    }
    Path file = dirOrNull.resolve("evidence-" + evidence.capsuleId().toHex().substring(0, 16) + "-"
        + evidence.record().hash().toHex().substring(0, 16) + "-" + nowMillis + ".cvmevid");
    try {
      Files.createDirectories(dirOrNull);
      Files.write(file, evidence.encode(), StandardOpenOption.CREATE_NEW);
    } catch (IOException e) {
      throw new RenterException(getMessage() + "; writing its evidence to " + file + " failed: " + e.getMessage(), e);
    }
    RollbackException written = new RollbackException(evidence, file);
    written.setStackTrace(getStackTrace());
    return written;
  }

  public Evidence evidence() {
    return evidence;
  }

  public @Nullable Path fileOrNull() {
    return fileOrNull;
  }
}
