package dev.capsulevm.proofs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.proofs.capsule.InMemoryRecordSource;
import dev.capsulevm.proofs.capsule.Membership;
import dev.capsulevm.proofs.capsule.RecordKind;
import dev.capsulevm.proofs.capsule.Metadata;
import dev.capsulevm.proofs.capsule.Permissions;
import dev.capsulevm.proofs.capsule.Record;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.proofs.capsule.SignedMetadata;
import dev.capsulevm.proofs.capsule.SigningPolicy;
import dev.capsulevm.proofs.capsule.RecordValidator;
import dev.capsulevm.proofs.crypto.SigningKey;
import dev.capsulevm.proofs.integrity.MemberStates;
import dev.capsulevm.proofs.integrity.ProofGenerator;
import dev.capsulevm.proofs.integrity.ProofVerifier;
import dev.capsulevm.proofs.integrity.RecordProof;
import dev.capsulevm.proofs.members.Changelog;
import dev.capsulevm.proofs.members.EpochKey;
import dev.capsulevm.proofs.members.Keystore;
import dev.capsulevm.proofs.members.MemberChange;
import dev.capsulevm.proofs.members.MemberState;
import dev.capsulevm.proofs.members.Op;
import dev.capsulevm.proofs.merkle.InclusionProof;
import dev.capsulevm.proofs.merkle.Merkle;
import dev.capsulevm.proofs.merkle.MerkleTree;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.bouncycastle.crypto.params.X25519PrivateKeyParameters;
import org.junit.jupiter.api.Test;

/**
 * Recomputes every {@code vector NAME = HEX} line of docs/FORMAT.md, so the document and the code
 * cannot drift apart. Run {@link #main} to print the lines afresh after a deliberate format change.
 */
class FormatVectorsTest {
  static final long TIME = 1_700_000_000_000L;

  static Map<String, String> compute() throws Exception {
    Map<String, String> v = new LinkedHashMap<>();
    HexFormat hex = HexFormat.of();
    SigningKey creator = seeded(1);
    SigningKey writer = seeded(2);
    v.put("key.creator.public", creator.publicKey().toHex());
    v.put("key.writer.public", writer.publicKey().toHex());

    List<byte[]> abc = List.of(bytes("a"), bytes("b"), bytes("c"));
    v.put("merkle.leaf(\"a\")", Merkle.leafHash(bytes("a")).toHex());
    v.put("merkle.root(\"a\",\"b\",\"c\")", Merkle.root(abc).toHex());
    v.put("merkle.root()", Merkle.emptyRoot().toHex());
    InclusionProof inclusion = MerkleTree.ofLeaves(abc).inclusionProof(1);
    v.put("merkle.inclusion(\"b\",index 1,size 3).path",
        inclusion.path().stream().map(Hash::toHex).collect(Collectors.joining(",")));

    Metadata body = Metadata.create(
        creator.publicKey(), TIME, SigningPolicy.EVERY_RECORD, 1024, 65536,
        Map.of(writer.publicKey(), Permissions.READ | Permissions.ADD), "example");
    SignedMetadata metadata = SignedMetadata.sign(body, creator);
    v.put("metadata.body", hex.formatHex(body.encoded()));
    v.put("metadata.signature", metadata.signature().toHex());
    v.put("capsule.id", metadata.capsuleId().toHex());

    InMemoryRecordSource source = new InMemoryRecordSource();
    RecordValidator validator = new RecordValidator(metadata);
    Hash parent = metadata.capsuleId();
    Record[] records = new Record[5];
    for (int height = 1; height <= 4; height++) {
      List<byte[]> payloads = height == 1 ? abc : List.of(bytes("record " + height));
      Record record = Record.build(metadata.capsuleId(), List.of(parent), payloads, TIME + height, writer, true, source);
      validator.validateAppend(List.of(new RecordWithBody(record, payloads)), source);
      source.add(record.header());
      records[height] = record;
      parent = record.hash();
    }
    for (int height : new int[] {1, 4}) {
      v.put("record" + height + ".header", hex.formatHex(records[height].header().encoded()));
      v.put("record" + height + ".hash", records[height].hash().toHex());
      v.put("record" + height + ".signature", records[height].signatureOrNull().toHex());
    }
    v.put("record2.hash", records[2].hash().toHex());
    RecordProof proof = new ProofGenerator(source).recordProof(records[4].hash(), records[1].hash());
    new ProofVerifier(null).verifyRecord(records[4].hash(), records[1].hash(), proof);
    v.put("proof(anchor record4, target record1).header-hashes",
        proof.headers().stream().map(h -> h.hash().toHex()).collect(Collectors.joining(",")));
    version2(v, creator, writer);
    version3(v, creator, writer);
    return v;
  }

  /**
   * The version-3 (private capsule) examples: metadata with the genesis keystore block, and the writer's
   * first data record. The cards are real (the writer's is the access-string example's, X25519 key of 32
   * bytes 0x03; the creator's X25519 key is 32 bytes 0x05); the epoch key, the encs and the wrapped
   * secrets are stand-ins, since opening them is the renter's ("Private capsules: encryption").
   */
  private static void version3(Map<String, String> v, SigningKey creator, SigningKey writer) throws Exception {
    HexFormat hex = HexFormat.of();
    EpochKey epoch = EpochKey.copyOf(filled(0xe7));
    Keystore genesis = Keystore.rotate(epoch, List.of(), List.of(card(creator, 0x05), card(writer, 0x03)));
    Metadata body = Metadata.createV3(
        creator.publicKey(), TIME, SigningPolicy.EVERY_RECORD, 1024, 65536,
        Map.of(writer.publicKey(), Permissions.READ | Permissions.ADD), "example v3", genesis);
    SignedMetadata metadata = SignedMetadata.sign(body, creator);
    Hash id = metadata.capsuleId();
    v.put("v3.x25519.creator.public", hex.formatHex(x25519Public(0x05)));
    v.put("v3.genesis.card-signature(creator)", genesis.entries().get(1).cardSignature().toHex());
    v.put("v3.genesis.keystore", hex.formatHex(genesis.encode()));
    v.put("v3.metadata.body", hex.formatHex(body.encoded()));
    v.put("v3.metadata.signature", metadata.signature().toHex());
    v.put("v3.capsule.id", id.toHex());

    InMemoryRecordSource source = new InMemoryRecordSource();
    Changelog changelog = hash -> null;
    RecordValidator validator = new RecordValidator(metadata);
    List<byte[]> payloads = List.of(bytes("record 1"));
    Record record = Record.buildV3(List.of(id), payloads, TIME + 1, writer, true, RecordKind.DATA, epoch,
        filled(0xec), source, changelog, validator.membershipOrNull());
    validator.validateAppend(List.of(new RecordWithBody(record, payloads)), source, changelog);
    v.put("v3.record1.header", hex.formatHex(record.header().encoded()));
    v.put("v3.record1.hash", record.hash().toHex());
  }

  /** {@code member}'s keystore entry with its real card for the X25519 key of 32 bytes {@code x25519Fill}. */
  private static Keystore.Entry card(SigningKey member, int x25519Fill) {
    byte[] x25519 = x25519Public(x25519Fill);
    byte[] signed = new byte[64];
    member.publicKey().copyTo(signed, 0);
    System.arraycopy(x25519, 0, signed, 32, 32);
    return new Keystore.Entry(member.publicKey(), x25519, member.sign(Domain.MEMBER_CARD_SIGNATURE, signed),
        filled(0xe0), filled(0xee, 48));
  }

  private static byte[] x25519Public(int fill) {
    return new X25519PrivateKeyParameters(filled(fill)).generatePublicKey().getEncoded();
  }

  private static byte[] filled(int fill) {
    return filled(fill, 32);
  }

  private static byte[] filled(int fill, int length) {
    byte[] out = new byte[length];
    Arrays.fill(out, (byte) fill);
    return out;
  }

  /**
   * The version-2 examples: a capsule of version-2 metadata with the same keys; record 1 is the writer's
   * data, record 2 the creator's membership record that gives the writer admin, record 3 the writer's
   * data after it.
   */
  private static void version2(Map<String, String> v, SigningKey creator, SigningKey writer) throws Exception {
    HexFormat hex = HexFormat.of();
    Metadata body = Metadata.createV2(
        creator.publicKey(), TIME, SigningPolicy.EVERY_RECORD, 1024, 65536,
        Map.of(writer.publicKey(), Permissions.READ | Permissions.ADD), "example v2");
    SignedMetadata metadata = SignedMetadata.sign(body, creator);
    Hash id = metadata.capsuleId();
    v.put("v2.metadata.body", hex.formatHex(body.encoded()));
    v.put("v2.metadata.signature", metadata.signature().toHex());
    v.put("v2.capsule.id", id.toHex());
    v.put("v2.genesis.member-root", MemberState.genesis(body).root().toHex());

    InMemoryRecordSource source = new InMemoryRecordSource();
    Map<Hash, Op> ops = new LinkedHashMap<>();
    Changelog changelog = ops::get;
    RecordValidator validator = new RecordValidator(metadata);
    MemberChange change = new MemberChange.SetMember(writer.publicKey(), Permissions.READ | Permissions.ADD | Permissions.ADMIN);
    Record[] records = new Record[4];
    Hash parent = id;
    for (int height = 1; height <= 3; height++) {
      boolean membership = height == 2;
      List<byte[]> payloads = List.of(membership ? change.encode() : bytes("record " + height));
      Record record = Record.buildV2(id, List.of(parent), payloads, TIME + height, membership ? creator : writer, true,
          membership ? RecordKind.MEMBERSHIP : RecordKind.DATA, source, changelog, metadata);
      validator.validateAppend(List.of(new RecordWithBody(record, payloads)), source, changelog);
      source.add(record.header());
      if (membership) {
        ops.put(record.hash(), Membership.opOf(record.header(), change));
      }
      records[height] = record;
      parent = record.hash();
    }
    v.put("v2.record2.change", hex.formatHex(change.encode()));
    for (int height = 1; height <= 3; height++) {
      v.put("v2.record" + height + ".header", hex.formatHex(records[height].header().encoded()));
      v.put("v2.record" + height + ".hash", records[height].hash().toHex());
    }
    v.put("v2.record2.signature", records[2].signatureOrNull().toHex());
    Membership members = validator.membershipOrNull();
    MemberStates states = hash -> members.stateBefore(source.headerOrNull(hash).authParents(), changelog);
    RecordProof proof = new ProofGenerator(source, states).recordProof(records[3].hash(), records[1].hash());
    new ProofVerifier(null).verifyRecord(records[3].hash(), records[1].hash(), proof);
    v.put("v2.proof(anchor record3, target record1).header-hashes",
        proof.headers().stream().map(h -> h.hash().toHex()).collect(Collectors.joining(",")));
    v.put("v2.proof(anchor record3, target record1).writer-entry", hex.formatHex(proof.writerEntryOrNull().encode()));
  }

  private static SigningKey seeded(int fill) {
    byte[] seed = new byte[32];
    Arrays.fill(seed, (byte) fill);
    return SigningKey.fromSeed(seed);
  }

  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  @Test
  void formatDocument_vectorsMatchTheCode() throws Exception {
    Path doc = Path.of("..", "docs", "FORMAT.md");
    assertTrue(Files.exists(doc), "docs/FORMAT.md is part of the project");
    Map<String, String> documented = new LinkedHashMap<>();
    for (String line : Files.readAllLines(doc)) {
      if (line.startsWith("vector ") && !ownedElsewhere(line.substring(7))) {
        int eq = line.indexOf(" = ");
        documented.put(line.substring(7, eq).trim(), line.substring(eq + 3).trim());
      }
    }
    assertEquals(compute(), documented);
  }

  /**
   * The receipt and transcript examples ({@code completed.*}, {@code failed.*}) need programs, so
   * program's FormatExamplesTest recomputes them; renter's EvidenceFormatTest recomputes {@code evidence.*}
   * and its AccessFormatTest {@code access.*} and {@code member-card.*}; members.MembersFormatTest
   * recomputes {@code members.*}; privacy.PrivacyFormatTest {@code privacy.*}; host's replication.PeerProofFormatTest {@code sync-proof.*}; program's RetentionFormatTest {@code retention.*}; pricing's SessionFormatTest {@code session.*}.
   */
  private static boolean ownedElsewhere(String name) {
    return name.startsWith("completed.") || name.startsWith("failed.") || name.startsWith("evidence.")
        || name.startsWith("members.") || name.startsWith("access.") || name.startsWith("member-card.")
        || name.startsWith("sync-proof.") || name.startsWith("privacy.")
        || name.startsWith("retention.") || name.startsWith("session.");
  }

  public static void main(String[] args) throws Exception {
    compute().forEach((name, value) -> System.out.println("vector " + name + " = " + value));
  }
}
