package dev.capsulevm.cli;

import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.capsule.Record;
import dev.capsulevm.proofs.capsule.RecordHeader;
import dev.capsulevm.proofs.capsule.SignedMetadata;
import dev.capsulevm.proofs.crypto.KeyFile;
import dev.capsulevm.proofs.crypto.Signature;
import dev.capsulevm.proofs.crypto.SigningKey;
import dev.capsulevm.renter.CapsuleWriter;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * The renter's local state, by default under {@code ~/.capsulevm/renter} ({@code --state} or the
 * {@code CAPSULEVM_RENTER_STATE} environment variable choose another directory):
 *
 * <pre>
 * account.pem                      the account key that signs withdrawals (made on first use)
 * capsules/ID/metadata             the capsule's signed metadata (canonical bytes)
 * capsules/ID/creator.pem          the creator key (only for capsules made here)
 * capsules/ID/writer.pem           the writer key
 * capsules/ID/heads                the verified heads: per line, header hex and signature hex
 * capsules/ID/headers              verified headers the next records' skip pointers need, hex per line
 * </pre>
 *
 * Files are rewritten whole through a temporary file and a rename, so a crash leaves the old state.
 */
final class RenterState {
  private final Path root;

  RenterState(Path root) {
    this.root = root;
  }

  static Path defaultRoot() {
    String env = System.getenv("CAPSULEVM_RENTER_STATE");
    if (env != null && !env.isBlank()) {
      return Path.of(env);
    }
    return Path.of(System.getProperty("user.home"), ".capsulevm", "renter");
  }

  Path root() {
    return root;
  }

  /** The account key at {@code fileOrNull}, or the state's own, made on first use. */
  SigningKey accountKey(@Nullable Path fileOrNull) throws IOException {
    Path file = fileOrNull != null ? fileOrNull : root.resolve("account.pem");
    if (fileOrNull == null && !Files.exists(file)) {
      Files.createDirectories(root);
      KeyFile.write(SigningKey.generate(), file);
    }
    return KeyFile.read(file);
  }

  Path capsuleDir(Hash id) {
    return root.resolve("capsules").resolve(id.toHex());
  }

  boolean knows(Hash id) {
    return Files.exists(capsuleDir(id).resolve("metadata"));
  }

  void saveNew(CapsuleWriter writer, SigningKey creator) throws IOException {
    Path dir = capsuleDir(writer.capsuleId());
    Files.createDirectories(dir);
    write(dir.resolve("metadata"), writer.metadata().encoded());
    if (!Files.exists(dir.resolve("creator.pem"))) {
      KeyFile.write(creator, dir.resolve("creator.pem"));
    }
    if (!Files.exists(dir.resolve("writer.pem"))) {
      KeyFile.write(writer.writerKey(), dir.resolve("writer.pem"));
    }
    save(writer);
  }

  /** Saves the writer's heads and known headers. */
  void save(CapsuleWriter writer) throws IOException {
    Path dir = capsuleDir(writer.capsuleId());
    HexFormat hex = HexFormat.of();
    StringBuilder heads = new StringBuilder();
    for (Record head : writer.heads()) {
      heads.append(hex.formatHex(head.header().encoded())).append(' ')
          .append(head.signatureOrNull() == null ? "-" : hex.formatHex(head.signatureOrNull().toByteArray()))
          .append('\n');
    }
    write(dir.resolve("heads"), heads.toString().getBytes(java.nio.charset.StandardCharsets.US_ASCII));
    StringBuilder headers = new StringBuilder();
    for (RecordHeader header : writer.knownHeaders()) {
      headers.append(hex.formatHex(header.encoded())).append('\n');
    }
    write(dir.resolve("headers"), headers.toString().getBytes(java.nio.charset.StandardCharsets.US_ASCII));
  }

  /** The writer of a capsule this state knows. */
  CapsuleWriter load(Hash id) throws IOException {
    Path dir = capsuleDir(id);
    try {
      SignedMetadata metadata = SignedMetadata.parse(Files.readAllBytes(dir.resolve("metadata")), id);
      SigningKey writer = KeyFile.read(dir.resolve("writer.pem"));
      HexFormat hex = HexFormat.of();
      List<Record> heads = new ArrayList<>();
      for (String line : lines(dir.resolve("heads"))) {
        String[] parts = line.split(" ", -1);
        if (parts.length != 2) {
          throw new IOException("corrupt renter state in " + dir + ": heads line '" + line + "'");
        }
        heads.add(Record.of(RecordHeader.parse(hex.parseHex(parts[0])),
            parts[1].equals("-") ? null : Signature.copyOf(hex.parseHex(parts[1]))));
      }
      List<RecordHeader> headers = new ArrayList<>();
      for (String line : lines(dir.resolve("headers"))) {
        headers.add(RecordHeader.parse(hex.parseHex(line)));
      }
      return new CapsuleWriter(metadata, writer, heads, headers);
    } catch (VerificationException e) {
      throw new IOException("corrupt renter state in " + dir + ": " + e.getMessage(), e);
    } catch (NoSuchFileException e) {
      throw new IOException("capsule " + id + " is not in the renter state " + root
          + " (create it here, or pass --state)", e);
    }
  }

  private static List<String> lines(Path file) throws IOException {
    if (!Files.exists(file)) {
      return List.of();
    }
    List<String> out = new ArrayList<>();
    for (String line : Files.readAllLines(file)) {
      if (!line.isBlank()) {
        out.add(line.strip());
      }
    }
    return out;
  }

  private static void write(Path file, byte[] bytes) throws IOException {
    Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
    Files.write(tmp, bytes);
    Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
  }
}
