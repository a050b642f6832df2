package dev.capsulevm.host.daemon;

import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import org.jspecify.annotations.Nullable;

/**
 * A failure in one line a user can act on, for the command line (the daemon and the renter commands):
 * a file error names the file and the reason ({@code NoSuchFileException}'s message is the bare path),
 * and a bind failure says that the address is in use, which Netty keeps in the cause.
 */
public final class OneLine {
  private OneLine() {}

  /** What went wrong in {@code failure}, without a stack trace. */
  public static String of(Throwable failure) {
    if (failure instanceof FileSystemException e) {
      return fileProblem(e);
    }
    String message = messageOrClass(failure);
    for (Throwable cause = failure.getCause(); cause != null; cause = cause.getCause()) {
      String text = cause.getMessage();
      if (text != null && text.contains("Address already in use")) {
        return message + ": address already in use (another process listens there; choose another port)";
      }
      if (cause instanceof FileSystemException e) {
        String problem = fileProblem(e);
        return message.contains(problem) ? message : message + ": " + problem;
      }
    }
    return message;
  }

  private static String fileProblem(FileSystemException e) {
    String file = e.getFile();
    String reason;
    if (e instanceof NoSuchFileException) {
      reason = "no such file or directory";
    } else if (e instanceof AccessDeniedException) {
      reason = "permission denied";
    } else if (e instanceof NotDirectoryException) {
      reason = "not a directory";
    } else {
      reason = e.getReason() != null ? e.getReason() : e.getClass().getSimpleName();
    }
    String other = e.getOtherFile();
    return (file != null ? file : "a file") + (other != null ? " -> " + other : "") + ": " + reason;
  }

  private static String messageOrClass(Throwable failure) {
    @Nullable String message = failure.getMessage();
    return message == null || message.isBlank() ? failure.getClass().getSimpleName() : message;
  }
}
