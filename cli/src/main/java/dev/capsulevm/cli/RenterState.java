package dev.capsulevm.cli;

import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.capsule.Metadata;
import dev.capsulevm.proofs.capsule.Record;
import dev.capsulevm.proofs.capsule.RecordHeader;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.proofs.capsule.SignedMetadata;
import dev.capsulevm.proofs.crypto.KeyFile;
import dev.capsulevm.proofs.crypto.Signature;
import dev.capsulevm.proofs.crypto.SigningKey;
import dev.capsulevm.renter.CapsuleReader;
import dev.capsulevm.renter.CapsuleWriter;
import dev.capsulevm.renter.HeadTracker;
import dev.capsulevm.renter.HostClient;
import dev.capsulevm.renter.RenterException;
import dev.capsulevm.renter.access.EncryptionKey;
import dev.capsulevm.renter.evidence.Claim;
import dev.capsulevm.renter.evidence.EvidenceException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Objects;
import org.jspecify.annotations.Nullable;

/**
 * The renter's local state, by default under {@code ~/.capsulevm/renter} ({@code --state}, the
 * {@code CAPSULEVM_STATE} environment variable or the renter config's {@code state} choose another
 * directory; {@link RenterConfig}):
 *
 * <pre>
 * account.pem                      the account key that signs withdrawals (made on first use); also the
 *                                  renter's identity, the Ed25519 key of its member card
 * encryption.key                   the X25519 key access strings are sealed to and private capsules'
 *                                  epoch keys are wrapped to (PKCS#8 PEM, mode 0600; made by the first
 *                                  `key card` or `capsule create --private`)
 * capsules/ID/metadata             the capsule's signed metadata (canonical bytes), checked against ID
 * capsules/ID/hosts                the hosts that hold the capsule, "host:port" per line, in the order
 *                                  commands without --host try them (from create, or an access string)
 * capsules/ID/creator.pem          the creator key (only for capsules made here)
 * capsules/ID/writer.pem           the writer key (only for capsules this renter writes)
 * capsules/ID/heads                the newest verified heads: per line, header hex, signature hex (or -)
 *                                  and, for a reader, the claim that vouched for it (docs/FORMAT.md,
 *                                  "Evidence") in hex, or - when none was kept
 * capsules/ID/headers              verified headers the next records' skip pointers need, hex per line
 * capsules/ID/changelog            the verified membership records of a capsule with members, per line:
 *                                  header hex, signature hex, change body hex and, for a private
 *                                  capsule's record that carries one, keystore block hex (checked again
 *                                  on load)
 * evidence/                        evidence files of hosts caught rolling a capsule back
 * receipts.log                     every receipt a command verified, one line each, appended
 *                                  ({@link ReceiptLog}; nothing trims it)
 * </pre>
 *
 * A capsule known only by its id (a reader's) has just metadata and heads. Files are rewritten whole
 * through a temporary file and a rename, so a crash leaves the old state.
 */
final class RenterState {
  private final Path root;

  RenterState(Path root) {
    this.root = root;
  }

  /** The renter config's state ({@code CAPSULEVM_STATE}, the file's {@code state}), else {@code ~/.capsulevm/renter}. */
  static Path defaultRoot() {
    Path configured = RenterConfig.current().stateOrNull();
    if (configured != null) {
      return configured;
    }
    return Path.of(System.getProperty("user.home"), ".capsulevm", "renter");
  }

  Path root() {
    return root;
  }

  /**
   * The account key at {@code fileOrNull}, else at the renter config's {@code account-key}, else the state's
   * own, made on first use.
   */
  SigningKey accountKey(@Nullable Path fileOrNull) throws IOException {
    Path given = fileOrNull != null ? fileOrNull : RenterConfig.current().accountKeyOrNull();
    Path file = given != null ? given : root.resolve("account.pem");
    if (given == null && !Files.exists(file)) {
      Files.createDirectories(root);
      KeyFile.write(SigningKey.generate(), file);
    }
    return KeyFile.read(file);
  }

  /** The X25519 key of this renter's member card, or null before the first {@link #encryptionKey()}. */
  @Nullable EncryptionKey encryptionKeyOrNull() throws IOException {
    Path file = root.resolve("encryption.key");
    return Files.exists(file) ? EncryptionKey.read(file) : null;
  }

  /** The X25519 key of this renter's member card, made on first use. */
  EncryptionKey encryptionKey() throws IOException {
    EncryptionKey key = encryptionKeyOrNull();
    if (key == null) {
      Files.createDirectories(root);
      key = EncryptionKey.generate();
      key.write(root.resolve("encryption.key"));
    }
    return key;
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

  /** Saves the writer's heads, known headers and membership records (and the metadata, for a member's first write). */
  void save(CapsuleWriter writer) throws IOException {
    Path dir = capsuleDir(writer.capsuleId());
    Files.createDirectories(dir);
    if (!Files.exists(dir.resolve("metadata"))) {
      write(dir.resolve("metadata"), writer.metadata().encoded());
    }
    List<HeadTracker.VouchedHead> heads = new ArrayList<>();
    for (Record head : writer.heads()) {
      heads.add(new HeadTracker.VouchedHead(head, writer.claimOrNull(head.hash())));
    }
    writeHeads(dir, heads);
    HexFormat hex = HexFormat.of();
    StringBuilder headers = new StringBuilder();
    for (RecordHeader header : writer.knownHeaders()) {
      headers.append(hex.formatHex(header.encoded())).append('\n');
    }
    write(dir.resolve("headers"), headers.toString().getBytes(StandardCharsets.US_ASCII));
    writeChangelog(dir, writer.membershipRecords());
  }

  /** The hosts saved for capsule {@code id}, in order; empty when none are. */
  List<String> hosts(Hash id) throws IOException {
    return lines(capsuleDir(id).resolve("hosts"));
  }

  /** Saves the hosts of capsule {@code id}, replacing those saved before. */
  void saveHosts(Hash id, List<String> hosts) throws IOException {
    Path dir = capsuleDir(id);
    Files.createDirectories(dir);
    write(dir.resolve("hosts"), (String.join("\n", hosts) + "\n").getBytes(StandardCharsets.UTF_8));
  }

  /** The metadata this state holds for capsule {@code id} (checked against it), or null. */
  @Nullable SignedMetadata metadataOrNull(Hash id) throws IOException {
    Path file = capsuleDir(id).resolve("metadata");
    if (!Files.exists(file)) {
      return null;
    }
    try {
      return SignedMetadata.parse(Files.readAllBytes(file), id);
    } catch (VerificationException e) {
      throw new IOException("corrupt renter state in " + file + ": " + e.getMessage(), e);
    }
  }

  /** Saves a capsule opened from an access string: its verified metadata and its hosts. */
  void saveOpened(SignedMetadata metadata, List<String> hosts) throws IOException {
    Path dir = capsuleDir(metadata.capsuleId());
    Files.createDirectories(dir);
    if (!Files.exists(dir.resolve("metadata"))) {
      write(dir.resolve("metadata"), metadata.encoded());
    }
    saveHosts(metadata.capsuleId(), hosts);
  }

  /** Whether this state holds the writer key of capsule {@code id}. */
  boolean writes(Hash id) {
    return Files.exists(capsuleDir(id).resolve("writer.pem"));
  }

  /** The writer of a capsule this state knows, signing with its writer key. */
  CapsuleWriter load(Hash id) throws IOException {
    Path dir = capsuleDir(id);
    try {
      return load(id, SignedMetadata.parse(Files.readAllBytes(dir.resolve("metadata")), id),
          KeyFile.read(dir.resolve("writer.pem")));
    } catch (VerificationException e) {
      throw new IOException("corrupt renter state in " + dir + ": " + e.getMessage(), e);
    } catch (NoSuchFileException e) {
      throw new IOException("capsule " + id + " is not in the renter state " + root
          + " (create it here, or pass --state)", e);
    }
  }

  /**
   * A writer of capsule {@code id} signing with {@code key}: a member of a version-2 capsule writes with its
   * own key (the state's identity, the account key, unless it holds the capsule's writer key), from the
   * heads, headers and membership records this state saved; a capsule it has not seen starts from the
   * metadata, fetched from the host and checked against the id.
   */
  CapsuleWriter writer(HostClient client, Hash id, SigningKey key) throws IOException, RenterException {
    SignedMetadata held = metadataOrNull(id);
    SignedMetadata metadata = held != null ? held : client.metadata(id);
    if (metadata.metadata().version() == Metadata.VERSION && !metadata.metadata().mayAppend(key.publicKey())) {
      throw new RenterException("key " + key.publicKey().toHex() + " is not a writer of capsule " + id
          + ", whose writers are fixed in its version-1 metadata");
    }
    return load(id, metadata, key);
  }

  /**
   * The key this state signs membership changes of capsule {@code id} with: the creator key when it made
   * the capsule, else its writer key, else its identity ({@code identityOrNull}, default the account key).
   */
  SigningKey memberKey(Hash id, @Nullable Path identityOrNull) throws IOException {
    Path dir = capsuleDir(id);
    for (String name : List.of("creator.pem", "writer.pem")) {
      if (Files.exists(dir.resolve(name))) {
        return KeyFile.read(dir.resolve(name));
      }
    }
    return accountKey(identityOrNull);
  }

  /** The key this state appends to capsule {@code id} with: its writer key, else its identity. */
  SigningKey appendKey(Hash id, @Nullable Path identityOrNull) throws IOException {
    Path file = capsuleDir(id).resolve("writer.pem");
    return Files.exists(file) ? KeyFile.read(file) : accountKey(identityOrNull);
  }

  private CapsuleWriter load(Hash id, SignedMetadata metadata, SigningKey key) throws IOException {
    Path dir = capsuleDir(id);
    try {
      List<Record> heads = new ArrayList<>();
      trackedHeads(id).forEach(v -> heads.add(v.head()));
      List<RecordHeader> headers = new ArrayList<>();
      for (String line : lines(dir.resolve("headers"))) {
        headers.add(RecordHeader.parse(HexFormat.of().parseHex(line)));
      }
      CapsuleWriter loaded = new CapsuleWriter(metadata, key, encryptionKeyOrNull(), heads, headers);
      loaded.restoreClaims(trackedHeads(id));
      loaded.restoreMembershipRecords(changelog(dir));
      return loaded;
    } catch (VerificationException | IllegalArgumentException e) {
      throw new IOException("corrupt renter state in " + dir + ": " + e.getMessage(), e);
    }
  }

  /**
   * A reader of capsule {@code id}: from the metadata and heads this state holds, or, for a capsule it
   * has never seen, from the id alone (the metadata is fetched from the host and checked against it).
   */
  CapsuleReader reader(HostClient client, Hash id) throws IOException, RenterException {
    CapsuleReader reader = CapsuleReader.open(client, id, metadataOrNull(id), trackedHeads(id), encryptionKeyOrNull());
    try {
      reader.restoreMembershipRecords(changelog(capsuleDir(id)));
    } catch (IllegalArgumentException e) {
      throw new IOException("corrupt renter state in " + capsuleDir(id) + ": " + e.getMessage(), e);
    }
    return reader;
  }

  /** The receipts kept in this state ({@code receipts.log}). */
  ReceiptLog receipts() {
    return new ReceiptLog(root.resolve(ReceiptLog.FILE));
  }

  /** Where evidence of a host's rollback goes (the client's evidence directory). */
  Path evidenceDir() {
    return root.resolve("evidence");
  }

  /** Saves a reader's metadata and tracked heads, with the claims that vouch for them. */
  void save(CapsuleReader reader) throws IOException {
    Path dir = capsuleDir(reader.capsuleId());
    Files.createDirectories(dir);
    if (!Files.exists(dir.resolve("metadata"))) {
      write(dir.resolve("metadata"), reader.metadata().encoded());
    }
    writeHeads(dir, reader.trackedHeads());
    writeChangelog(dir, reader.membershipRecords());
  }

  /** The membership records saved in {@code dir}, parsed (the SDK checks them again when restoring them). */
  private static List<RecordWithBody> changelog(Path dir) throws IOException {
    HexFormat hex = HexFormat.of();
    List<RecordWithBody> out = new ArrayList<>();
    for (String line : lines(dir.resolve("changelog"))) {
      String[] parts = line.split(" ", -1);
      try {
        if (parts.length != 3 && parts.length != 4) {
          throw new IllegalArgumentException("3 or 4 fields expected");
        }
        Record record = Record.of(RecordHeader.parse(hex.parseHex(parts[0])), Signature.copyOf(hex.parseHex(parts[1])));
        List<byte[]> payloads = new ArrayList<>();
        for (int i = 2; i < parts.length; i++) {
          payloads.add(hex.parseHex(parts[i]));
        }
        out.add(new RecordWithBody(record, payloads));
      } catch (VerificationException | IllegalArgumentException e) {
        throw new IOException("corrupt renter state in " + dir + ": changelog line '" + line + "': " + e.getMessage(), e);
      }
    }
    return out;
  }

  private static void writeChangelog(Path dir, List<RecordWithBody> records) throws IOException {
    if (records.isEmpty() && !Files.exists(dir.resolve("changelog"))) {
      return;
    }
    HexFormat hex = HexFormat.of();
    StringBuilder out = new StringBuilder();
    for (RecordWithBody item : records) {
      Signature signature = Objects.requireNonNull(item.record().signatureOrNull(), "a membership record is signed");
      out.append(hex.formatHex(item.record().header().encoded())).append(' ')
          .append(hex.formatHex(signature.toByteArray()));
      for (byte[] payload : item.payloads()) {
        out.append(' ').append(hex.formatHex(payload));
      }
      out.append('\n');
    }
    write(dir.resolve("changelog"), out.toString().getBytes(StandardCharsets.US_ASCII));
  }

  /** The heads saved for capsule {@code id}, with their claims where kept. */
  List<HeadTracker.VouchedHead> trackedHeads(Hash id) throws IOException {
    Path dir = capsuleDir(id);
    HexFormat hex = HexFormat.of();
    List<HeadTracker.VouchedHead> out = new ArrayList<>();
    for (String line : lines(dir.resolve("heads"))) {
      String[] parts = line.split(" ", -1);
      if (parts.length != 2 && parts.length != 3) {
        throw new IOException("corrupt renter state in " + dir + ": heads line '" + line + "'");
      }
      try {
        Record head = Record.of(RecordHeader.parse(hex.parseHex(parts[0])),
            parts[1].equals("-") ? null : Signature.copyOf(hex.parseHex(parts[1])));
        Claim claim = parts.length == 3 && !parts[2].equals("-") ? Claim.parse(hex.parseHex(parts[2])) : null;
        out.add(new HeadTracker.VouchedHead(head, claim));
      } catch (VerificationException | EvidenceException | IllegalArgumentException e) {
        throw new IOException("corrupt renter state in " + dir + ": heads line '" + line + "': " + e.getMessage(), e);
      }
    }
    return out;
  }

  private static void writeHeads(Path dir, List<HeadTracker.VouchedHead> heads) throws IOException {
    HexFormat hex = HexFormat.of();
    StringBuilder out = new StringBuilder();
    for (HeadTracker.VouchedHead v : heads) {
      Record head = v.head();
      Claim claim = v.claimOrNull();
      out.append(hex.formatHex(head.header().encoded())).append(' ')
          .append(head.signatureOrNull() == null ? "-" : hex.formatHex(head.signatureOrNull().toByteArray()))
          .append(' ').append(claim == null ? "-" : hex.formatHex(claim.encoded())).append('\n');
    }
    write(dir.resolve("heads"), out.toString().getBytes(StandardCharsets.US_ASCII));
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
