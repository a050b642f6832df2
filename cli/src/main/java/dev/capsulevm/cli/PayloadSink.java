package dev.capsulevm.cli;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import org.jspecify.annotations.Nullable;

/**
 * Where verified payloads go, in one of three forms: raw bytes, one after the other (what a file was);
 * text, each payload decoded as UTF-8 (invalid bytes replaced) on a line of its own; or hex, one payload a
 * line. It counts the payload bytes and hashes them (SHA-256 of the payloads themselves, whatever the
 * form), so a read of what {@code capsule append} wrote reports the same digest.
 *
 * <p>To standard output it writes through a buffer it flushes, never closing the stream. To a file it
 * writes {@code FILE.part} beside it and moves that onto {@code FILE} only once everything is written
 * ({@link #commit()}); {@link #close()} without a commit removes it, so a failed read leaves no file that
 * looks complete.
 */
final class PayloadSink implements AutoCloseable {
  /** How payloads are printed. */
  enum Form { RAW, TEXT, HEX }

  private final OutputStream out;
  private final Form form;
  private final @Nullable Path fileOrNull;
  private final @Nullable Path partOrNull;
  private final MessageDigest digest;
  private long payloads;
  private long bytes;
  private boolean committed;

  private PayloadSink(OutputStream out, Form form, @Nullable Path fileOrNull, @Nullable Path partOrNull) {
    this.out = out;
    this.form = form;
    this.fileOrNull = fileOrNull;
    this.partOrNull = partOrNull;
    try {
      this.digest = MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every Java platform has SHA-256", e);
    }
  }

  /** Payloads to standard output. */
  static PayloadSink stdout(Form form) {
    return new PayloadSink(new BufferedOutputStream(System.out, 1 << 16), form, null, null);
  }

  /** Payloads to {@code file}, through {@code file.part}. */
  static PayloadSink file(Path file, Form form) throws IOException {
    Path part = file.resolveSibling(file.getFileName() + ".part");
    return new PayloadSink(new BufferedOutputStream(Files.newOutputStream(part), 1 << 16), form, file, part);
  }

  /** Writes one verified payload. */
  void write(byte[] payload) throws IOException {
    digest.update(payload);
    payloads++;
    bytes += payload.length;
    switch (form) {
      case RAW -> out.write(payload);
      case TEXT -> {
        out.write(new String(payload, StandardCharsets.UTF_8).getBytes(StandardCharsets.UTF_8));
        out.write('\n');
      }
      case HEX -> {
        out.write(HexFormat.of().formatHex(payload).getBytes(StandardCharsets.US_ASCII));
        out.write('\n');
      }
    }
  }

  /** Pushes what is buffered out (after each record, so a reader at the other end of a pipe sees it). */
  void flush() throws IOException {
    out.flush();
  }

  /** Flushes, and for a file moves the part written onto the file. */
  void commit() throws IOException {
    out.flush();
    if (partOrNull != null && fileOrNull != null) {
      out.close();
      Files.move(partOrNull, fileOrNull, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }
    committed = true;
  }

  long payloads() {
    return payloads;
  }

  long bytes() {
    return bytes;
  }

  /** The SHA-256 of every payload written, in hex (call once, at the end). */
  String sha256() {
    return HexFormat.of().formatHex(digest.digest());
  }

  @Override
  public void close() throws IOException {
    if (partOrNull == null) {
      out.flush();
      return;
    }
    if (!committed) {
      out.close();
      Files.deleteIfExists(partOrNull);
    }
  }
}
