package dev.capsulevm.host.replication;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.host.sync.SessionKey;
import dev.capsulevm.proofs.Domain;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.crypto.Signature;
import dev.capsulevm.proofs.crypto.SigningKey;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

/**
 * Recomputes docs/FORMAT.md's "Sync peer proof" example: the example creator key (seed 32 bytes 0x01)
 * opens a session for the example capsule with nonce 32 bytes 0x0a and exchange key scalar 32 bytes 0x0c,
 * the example writer key (seed 0x02) answers with nonce 32 bytes 0x0b and exchange key scalar 32 bytes
 * 0x0d. Every {@code vector sync-proof.*} line is these bytes.
 */
class PeerProofFormatTest {
  static final Hash CAPSULE = Hash.fromHex("a2998319ae73c781cdaa63dfeb9191e2f192ffe5289fcc06184e41495dc55c74");

  static Map<String, String> compute() {
    SigningKey initiator = seeded(1);
    SigningKey responder = seeded(2);
    byte[] initiatorNonce = filled(0x0a);
    byte[] responderNonce = filled(0x0b);
    PeerHandshake.ExchangeKey initiatorExchange = PeerHandshake.ExchangeKey.of(filled(0x0c));
    PeerHandshake.ExchangeKey responderExchange = PeerHandshake.ExchangeKey.of(filled(0x0d));
    byte[] ie = initiatorExchange.publicKey();
    byte[] re = responderExchange.publicKey();
    HexFormat hex = HexFormat.of();
    Map<String, String> v = new TreeMap<>();
    v.put("sync-proof.exchange-key(initiator)", hex.formatHex(ie));
    v.put("sync-proof.exchange-key(responder)", hex.formatHex(re));
    v.put("sync-proof.challenge(responder)", hex.formatHex(PeerHandshake.challenge(PeerHandshake.RESPONDER, CAPSULE,
        initiatorNonce, responderNonce, initiator.publicKey(), responder.publicKey(), ie, re)));
    v.put("sync-proof.signature(responder)", PeerHandshake.sign(responder, PeerHandshake.RESPONDER, CAPSULE,
        initiatorNonce, responderNonce, initiator.publicKey(), responder.publicKey(), ie, re).toHex());
    v.put("sync-proof.challenge(initiator)", hex.formatHex(PeerHandshake.challenge(PeerHandshake.INITIATOR, CAPSULE,
        initiatorNonce, responderNonce, initiator.publicKey(), responder.publicKey(), ie, re)));
    v.put("sync-proof.signature(initiator)", PeerHandshake.sign(initiator, PeerHandshake.INITIATOR, CAPSULE,
        initiatorNonce, responderNonce, initiator.publicKey(), responder.publicKey(), ie, re).toHex());
    byte[] secret = initiatorExchange.pairSecret(re);
    v.put("sync-proof.pair-secret", hex.formatHex(secret));
    SessionKey key = SessionKey.forPair(CAPSULE, secret);
    v.put("sync-proof.pair-key", hex.formatHex(key.keyBytes()));
    v.put("sync-proof.pair-hash(capsule.id)", String.format("%016x", key.hash(CAPSULE)));
    return v;
  }

  /** Both hosts compute the same pair secret, whichever initiates; a low-order point gives none. */
  @Test
  void bothSidesShareThePairSecret() {
    PeerHandshake.ExchangeKey a = PeerHandshake.ExchangeKey.generate();
    PeerHandshake.ExchangeKey b = PeerHandshake.ExchangeKey.generate();
    assertArrayEquals(a.pairSecret(b.publicKey()), b.pairSecret(a.publicKey()));
    PeerHandshake.ExchangeKey c = PeerHandshake.ExchangeKey.generate();
    assertFalse(Arrays.equals(a.pairSecret(b.publicKey()), a.pairSecret(c.publicKey())));
    byte[] lowOrder = new byte[32]; // the point 0
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> a.pairSecret(lowOrder));
    assertTrue(e.getMessage().contains("no shared secret"), e.getMessage());
  }

  @Test
  void theDocumentedProofIsTheCodes() throws Exception {
    Path doc = Path.of("..", "docs", "FORMAT.md");
    assertTrue(Files.exists(doc), "docs/FORMAT.md is part of the project");
    Map<String, String> documented = new TreeMap<>();
    for (String line : Files.readAllLines(doc)) {
      if (line.startsWith("vector sync-proof.")) {
        int eq = line.indexOf(" = ");
        documented.put(line.substring(7, eq).trim(), line.substring(eq + 3).trim());
      }
    }
    assertEquals(compute(), documented);
  }

  /** A signature binds its role: the responder's never verifies as the initiator's, nor under the tag alone. */
  @Test
  void aSignatureVerifiesOnlyForItsRoleAndSession() {
    SigningKey a = seeded(1);
    SigningKey b = seeded(2);
    Signature responder = PeerHandshake.sign(b, PeerHandshake.RESPONDER, CAPSULE, filled(1), filled(2),
        a.publicKey(), b.publicKey(), filled(4), filled(5));
    assertTrue(b.publicKey().verify(Domain.SYNC_PEER_PROOF, PeerHandshake.challenge(PeerHandshake.RESPONDER,
        CAPSULE, filled(1), filled(2), a.publicKey(), b.publicKey(), filled(4), filled(5)), responder));
    assertFalse(b.publicKey().verify(Domain.SYNC_PEER_PROOF, PeerHandshake.challenge(PeerHandshake.INITIATOR,
        CAPSULE, filled(1), filled(2), a.publicKey(), b.publicKey(), filled(4), filled(5)), responder), "another role");
    assertFalse(b.publicKey().verify(Domain.SYNC_PEER_PROOF, PeerHandshake.challenge(PeerHandshake.RESPONDER,
        CAPSULE, filled(1), filled(3), a.publicKey(), b.publicKey(), filled(4), filled(5)), responder),
        "another session");
    assertFalse(b.publicKey().verify(Domain.SYNC_PEER_PROOF, PeerHandshake.challenge(PeerHandshake.RESPONDER,
        CAPSULE, filled(1), filled(2), b.publicKey(), b.publicKey(), filled(4), filled(5)), responder),
        "another initiator");
    assertFalse(b.publicKey().verify(Domain.SYNC_PEER_PROOF, PeerHandshake.challenge(PeerHandshake.RESPONDER,
        CAPSULE, filled(1), filled(2), a.publicKey(), b.publicKey(), filled(6), filled(5)), responder),
        "another exchange key");
  }

  public static void main(String[] args) {
    compute().forEach((name, value) -> System.out.println("vector " + name + " = " + value));
  }

  private static byte[] filled(int value) {
    byte[] bytes = new byte[32];
    Arrays.fill(bytes, (byte) value);
    return bytes;
  }

  private static SigningKey seeded(int fill) {
    return SigningKey.fromSeed(filled(fill));
  }
}
