package dev.capsulevm.renter;

import static dev.capsulevm.renter.EndToEndTest.utf8;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.host.ChildJvm;
import dev.capsulevm.pricing.Amount;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.proofs.capsule.SigningPolicy;
import dev.capsulevm.proofs.crypto.SigningKey;
import dev.capsulevm.proofs.members.Keystore;
import dev.capsulevm.proofs.members.Rights;
import dev.capsulevm.proofs.privacy.EpochSecret;
import dev.capsulevm.renter.access.EncryptionKey;
import dev.capsulevm.renter.access.MemberCard;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.UUID;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The host sees no secrets: a private capsule is written, shared, rotated and read with known plaintext
 * markers through a real host in a JVM of its own that logs everything it does (trace, gRPC and Netty
 * included); then every file of its data directory and its whole log are searched for the markers and
 * for the bytes of every epoch secret and member private key, raw, hex and base64. None appears, while
 * the ciphertexts do (the search works: it finds what the host did store).
 */
class HostSeesNoSecretsTest {
  @TempDir Path tmp;

  @Test
  void noMarkerAndNoSecretReachesTheHostsFilesOrLogs() throws Exception {
    Path data = tmp.resolve("host");
    Path log = tmp.resolve("host.log");
    String run = UUID.randomUUID().toString();
    List<byte[]> markers = new ArrayList<>();
    List<byte[]> secrets = new ArrayList<>();
    List<byte[]> stored = new ArrayList<>();
    try (ChildJvm child = ChildJvm.start(log, 256, HostChild.class, data.toString())) {
      String[] serving = child.nextLine().split(" ");
      assertEquals("serving", serving[0]);
      String address = "127.0.0.1:" + serving[1];
      try (AdminClient admin = AdminClient.connect("127.0.0.1:" + serving[2], serving[3])) {
        Party alice = new Party(admin, address);
        Party bob = new Party(admin, address);
        Party carol = new Party(admin, address);
        try (alice; bob; carol) {
          secrets.add(alice.key.privateKeyParameters().getEncoded());
          secrets.add(bob.key.privateKeyParameters().getEncoded());
          secrets.add(carol.key.privateKeyParameters().getEncoded());
          CapsuleWriter capsule = CapsuleWriter.createPrivate(alice.client, alice.identity, alice.identity, alice.key,
              Map.of(bob.card(), Rights.READ | Rights.ADD), SigningPolicy.EVERY_RECORD, 64, 4096, "no secrets");
          List<RecordWithBody> written = new ArrayList<>();
          written.addAll(capsule.appendRecords(alice.client, List.of(
              List.of(marker(markers, run, "alice-1"), marker(markers, run, "alice-2")),
              List.of(marker(markers, run, "alice-3")))));
          CapsuleWriter bobWrites = new CapsuleWriter(capsule.metadata(), bob.identity, bob.key, List.of(), List.of());
          written.addAll(bobWrites.append(bob.client, List.of(marker(markers, run, "bob-1"))));
          capsule.addMember(alice.client, carol.card(), Rights.READ);
          capsule.removeMember(alice.client, bob.identity.publicKey());
          written.addAll(capsule.append(alice.client, List.of(marker(markers, run, "alice-after-removal"))));
          capsule.rekey(alice.client);
          PendingAppend pipelined = capsule.submitAppend(alice.client, List.of(List.of(marker(markers, run, "piped"))));
          written.addAll(pipelined.result());

          // Every marker reads back for a member, decrypted on the renter's side.
          CapsuleReader carolReads = CapsuleReader.open(carol.client, capsule.capsuleId(), null, List.of(), carol.key);
          int next = 0;
          for (RecordWithBody record : written) {
            for (int i = 0; i < record.payloads().size(); i++) {
              assertArrayEquals(markers.get(next++), carolReads.read(record.hash(), i));
              stored.add(record.payloads().get(i));
            }
          }
          assertEquals(markers.size(), next);
          secrets.addAll(epochSecrets(capsule, alice.key));
          assertEquals(3, secrets.size() - 3, "the genesis epoch, bob's removal and the rekey");
        }
      }
      child.kill();
    }

    String logText = Files.readString(log, StandardCharsets.ISO_8859_1);
    assertTrue(logText.contains("serving on"), "the host's own log lines are in the file");
    assertTrue(logText.contains("DEBUG"), "debug lines too: the host logged at trace");
    Map<Path, byte[]> contents = new java.util.LinkedHashMap<>();
    for (Path file : files(data)) {
      contents.put(file, Files.readAllBytes(file));
    }
    contents.put(log, Files.readAllBytes(log));
    assertTrue(contents.keySet().stream().anyMatch(f -> f.toString().endsWith("data.mdb")), "the store: " + contents.keySet());

    // The search works: it finds the ciphertexts the host stored.
    assertTrue(contents.values().stream().anyMatch(bytes -> indexOf(bytes, stored.get(0)) >= 0), "a ciphertext is found");
    for (byte[] marker : markers) {
      assertNowhere("plaintext marker " + new String(marker, StandardCharsets.UTF_8), marker, contents);
    }
    for (byte[] secret : secrets) {
      assertNowhere("a secret", secret, contents);
    }
  }

  /** A member: identity (also its account), X25519 key and a client, funded. */
  private static final class Party implements AutoCloseable {
    final SigningKey identity = SigningKey.generate();
    final EncryptionKey key = EncryptionKey.generate();
    final HostClient client;

    Party(AdminClient admin, String address) throws RenterException {
      admin.fund(identity.publicKey(), Amount.ofCap(1000));
      client = HostClient.connect(address, identity, RenterOptions.defaults());
    }

    MemberCard card() {
      return MemberCard.create(identity, key);
    }

    @Override
    public void close() {
      client.close();
    }
  }

  private static byte[] marker(List<byte[]> markers, String run, String name) {
    byte[] marker = utf8("PLAINTEXT-MARKER-" + name + "-" + run);
    markers.add(marker);
    return marker;
  }

  /** The secret of every epoch the creator holds: its own wrap in the genesis block and in each keystore block. */
  private static List<byte[]> epochSecrets(CapsuleWriter capsule, EncryptionKey key) throws Exception {
    List<Keystore> blocks = new ArrayList<>();
    blocks.add(Objects.requireNonNull(capsule.metadata().genesisKeystoreOrNull()));
    for (RecordWithBody record : capsule.membershipRecords()) {
      if (record.payloads().size() == 2) {
        blocks.add(Keystore.parse(record.payloads().get(1)));
      }
    }
    List<byte[]> out = new ArrayList<>();
    for (Keystore block : blocks) {
      Keystore.Entry mine = block.entryOrNull(capsule.writerKey().publicKey());
      if (block.type() == Keystore.Type.ROTATE && mine != null) {
        out.add(EpochSecret.unwrap(mine, block.epochKey(), key.privateKeyParameters()).toBytes());
      }
    }
    return out;
  }

  private static List<Path> files(Path dir) throws IOException {
    try (Stream<Path> walk = Files.walk(dir)) {
      return walk.filter(Files::isRegularFile).toList();
    }
  }

  /** {@code needle} raw, in hex (either case) and in base64 (either alphabet) is in none of {@code contents}. */
  private static void assertNowhere(String what, byte[] needle, Map<Path, byte[]> contents) {
    List<byte[]> forms = new ArrayList<>();
    forms.add(needle);
    for (String form : List.of(HexFormat.of().formatHex(needle), HexFormat.of().withUpperCase().formatHex(needle),
        Base64.getEncoder().withoutPadding().encodeToString(needle),
        Base64.getUrlEncoder().withoutPadding().encodeToString(needle))) {
      forms.add(form.getBytes(StandardCharsets.US_ASCII));
    }
    contents.forEach((file, bytes) -> {
      for (byte[] form : forms) {
        assertTrue(indexOf(bytes, form) < 0, what + " is in the host's " + file + " (as "
            + new String(form, StandardCharsets.ISO_8859_1) + ")");
      }
    });
  }

  private static int indexOf(byte[] haystack, byte[] needle) {
    outer:
    for (int i = 0; i + needle.length <= haystack.length; i++) {
      for (int j = 0; j < needle.length; j++) {
        if (haystack[i + j] != needle[j]) {
          continue outer;
        }
      }
      return i;
    }
    return -1;
  }
}
