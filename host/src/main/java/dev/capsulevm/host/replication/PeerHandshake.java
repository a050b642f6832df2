package dev.capsulevm.host.replication;

import com.google.protobuf.ByteString;
import dev.capsulevm.proofs.Domain;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.crypto.PublicKey;
import dev.capsulevm.proofs.crypto.Signature;
import dev.capsulevm.proofs.crypto.SigningKey;
import dev.capsulevm.proto.v1.PeerProof;
import dev.capsulevm.proto.v1.SyncFrame;
import io.grpc.Status;
import dev.capsulevm.proofs.Sha256;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.Arrays;
import java.util.HexFormat;
import org.bouncycastle.crypto.agreement.X25519Agreement;
import org.bouncycastle.crypto.params.X25519PrivateKeyParameters;
import org.bouncycastle.crypto.params.X25519PublicKeyParameters;
import org.jspecify.annotations.Nullable;

/**
 * The peer proof that opens every sync session (docs/PROTOCOL.md "Peer proofs", docs/FORMAT.md "Sync
 * peer proof"): each host signs a challenge made of fresh nonces from both sides, the capsule, both
 * host keys and both exchange keys, so neither signature can be replayed into another session, for
 * another capsule, to another peer, or in the other role. It proves the key over plaintext and TLS alike.
 *
 * <p>The exchange keys are X25519 keys each host draws at random and keeps for a while
 * ({@link ExchangeKey}); their agreement gives both hosts a secret no one else can compute, the
 * {@linkplain #pairSecret pair secret} from which the standing keys of their coded symbols derive.
 *
 * <p>Three frames: the initiator's opening (its key, nonce and the capsule), the responder's answer (its
 * key, nonce and signature), and the initiator's signature on the frame of its first turn. The responder
 * reveals nothing of the capsule before it has verified the initiator; the initiator sends nothing of it
 * before it has verified the responder.
 */
final class PeerHandshake {
  /** Bytes of each side's nonce. */
  static final int NONCE_BYTES = 32;
  /** The role byte of the signed challenge: who signs. */
  static final byte INITIATOR = 0x01;
  static final byte RESPONDER = 0x02;

  /** Bytes of an X25519 public key. */
  static final int EXCHANGE_KEY_BYTES = X25519PublicKeyParameters.KEY_SIZE;
  private static final byte[] PAIR_LABEL = "capsulevm/sync/dh/v1".getBytes(StandardCharsets.US_ASCII);

  private static final SecureRandom RANDOM = new SecureRandom();

  private PeerHandshake() {}

  /**
   * The signed message (the domain tag 0x60 goes before it): {@code role || capsule id ||
   * initiator nonce || responder nonce || initiator key || responder key || initiator exchange key ||
   * responder exchange key}, 225 bytes.
   */
  static byte[] challenge(byte role, Hash capsule, byte[] initiatorNonce, byte[] responderNonce,
      PublicKey initiator, PublicKey responder, byte[] initiatorExchange, byte[] responderExchange) {
    byte[] out = new byte[1 + Hash.LENGTH + 2 * NONCE_BYTES + 2 * PublicKey.LENGTH + 2 * EXCHANGE_KEY_BYTES];
    out[0] = role;
    capsule.copyTo(out, 1);
    int at = 1 + Hash.LENGTH;
    System.arraycopy(initiatorNonce, 0, out, at, NONCE_BYTES);
    System.arraycopy(responderNonce, 0, out, at + NONCE_BYTES, NONCE_BYTES);
    at += 2 * NONCE_BYTES;
    initiator.copyTo(out, at);
    responder.copyTo(out, at + PublicKey.LENGTH);
    at += 2 * PublicKey.LENGTH;
    System.arraycopy(initiatorExchange, 0, out, at, EXCHANGE_KEY_BYTES);
    System.arraycopy(responderExchange, 0, out, at + EXCHANGE_KEY_BYTES, EXCHANGE_KEY_BYTES);
    return out;
  }

  static Signature sign(SigningKey key, byte role, Hash capsule, byte[] initiatorNonce, byte[] responderNonce,
      PublicKey initiator, PublicKey responder, byte[] initiatorExchange, byte[] responderExchange) {
    return key.sign(Domain.SYNC_PEER_PROOF, challenge(role, capsule, initiatorNonce, responderNonce, initiator,
        responder, initiatorExchange, responderExchange));
  }

  /**
   * An X25519 key pair a host draws at random, not persisted, and uses for every session until it is
   * replaced (the Replicator replaces it daily): its sessions with one peer share a pair secret for
   * that long, so each host can keep coded symbols under the standing key it gives.
   */
  static final class ExchangeKey {
    private final X25519PrivateKeyParameters secret;
    private final byte[] publicKey;

    private ExchangeKey(X25519PrivateKeyParameters secret) {
      this.secret = secret;
      this.publicKey = secret.generatePublicKey().getEncoded();
    }

    static ExchangeKey generate() {
      return new ExchangeKey(new X25519PrivateKeyParameters(RANDOM));
    }

    /** The key with this 32-byte private scalar (the worked examples of docs/FORMAT.md). */
    static ExchangeKey of(byte[] scalar) {
      return new ExchangeKey(new X25519PrivateKeyParameters(scalar, 0));
    }

    byte[] publicKey() {
      return publicKey.clone();
    }

    /**
     * The secret this host shares with the peer whose exchange key is {@code peer}: {@code SHA-256(
     * "capsulevm/sync/dh/v1" || X25519(this, peer) || the lower exchange key || the higher)}, keys
     * compared as unsigned bytes, so both sides compute the same whichever initiates.
     *
     * @throws IllegalArgumentException when the peer's key gives no secret (a low-order point: the
     *     agreement is all zeros)
     */
    byte[] pairSecret(byte[] peer) {
      byte[] shared = new byte[X25519PrivateKeyParameters.SECRET_SIZE];
      X25519Agreement agreement = new X25519Agreement();
      agreement.init(secret);
      try {
        agreement.calculateAgreement(new X25519PublicKeyParameters(peer, 0), shared, 0);
      } catch (IllegalStateException zero) {
        throw new IllegalArgumentException("the exchange key " + HexFormat.of().formatHex(peer)
            + " gives no shared secret (a point of low order)", zero);
      }
      boolean mineFirst = Arrays.compareUnsigned(publicKey, peer) <= 0;
      MessageDigest md = Sha256.newDigest();
      md.update(PAIR_LABEL);
      md.update(shared);
      md.update(mineFirst ? publicKey : peer);
      md.update(mineFirst ? peer : publicKey);
      return md.digest();
    }
  }

  // ---- the initiator

  /** The initiator's half: its nonce, then the responder's proven key. */
  static final class Initiator {
    private final SigningKey self;
    private final ExchangeKey exchange;
    private final Hash capsule;
    private final byte[] nonce = fresh();

    Initiator(SigningKey self, ExchangeKey exchange, Hash capsule) {
      this.self = self;
      this.exchange = exchange;
      this.capsule = capsule;
    }

    /** The opening frame: this host's key, its nonce, its exchange key and the capsule; no turn. */
    SyncFrame opening() {
      return SyncFrame.newBuilder().setProof(PeerProof.newBuilder().setHostKey(bytes(self.publicKey().toByteArray()))
          .setNonce(bytes(nonce)).setCapsule(bytes(capsule.toByteArray()))
          .setExchangeKey(bytes(exchange.publicKey()))).build();
    }

    /**
     * Takes the responder's answer and verifies its signature; returns the responder's key and this
     * host's signature, to send on the frame of its first turn. A missing or malformed proof, or a
     * signature that does not verify, is the responder's misbehaviour.
     */
    Proven answer(FrameChannel channel, Duration timeout) throws SyncFailure {
      SyncFrame frame = channel.take(timeout);
      if (frame == null) {
        throw SyncFailure.of(Status.Code.UNAVAILABLE, "the responder ended the session before proving its host key");
      }
      if (!frame.hasProof() || frame.getTurnBytes() != 0 || !frame.getTurn().isEmpty()
          || !frame.getRecords().isEmpty()) {
        throw SyncFailure.misbehaviour("the responder's first frame must hold its proof and nothing else", null);
      }
      PeerProof proof = frame.getProof();
      PublicKey responder = key(proof, "responder");
      byte[] responderNonce = nonceOf(proof, "responder");
      if (!proof.getCapsule().isEmpty()) {
        throw SyncFailure.misbehaviour("the responder's proof names a capsule", null);
      }
      byte[] responderExchange = exchangeKeyOf(proof, "responder");
      Signature signature = signature(proof, "responder");
      PublicKey me = self.publicKey();
      byte[] myExchange = exchange.publicKey();
      if (!responder.verify(Domain.SYNC_PEER_PROOF,
          challenge(RESPONDER, capsule, nonce, responderNonce, me, responder, myExchange, responderExchange),
          signature)) {
        throw new SyncFailure(Status.Code.UNAUTHENTICATED, true,
            "the responder's signature does not prove host key " + responder.toHex(), null);
      }
      byte[] pairSecret = pairSecret(exchange, responderExchange, "responder");
      Signature mine = sign(self, INITIATOR, capsule, nonce, responderNonce, me, responder, myExchange,
          responderExchange);
      return new Proven(responder, PeerProof.newBuilder().setSignature(bytes(mine.toByteArray())).build(),
          pairSecret);
    }
  }

  /**
   * The responder's proven key, the initiator's signature to send with its first turn, and the secret
   * the two hosts share ({@link ExchangeKey#pairSecret}).
   */
  @SuppressWarnings("ArrayRecordComponent") // a secret, handed on and never compared
  record Proven(PublicKey peer, PeerProof signature, byte[] pairSecret) {}

  // ---- the responder

  /** What the initiator's opening frame claims: its key (not proven yet), its nonce, the capsule. */
  @SuppressWarnings("ArrayRecordComponent") // a nonce and a key, copied on the way in and never compared
  record Opening(PublicKey initiator, byte[] nonce, Hash capsule, byte[] exchangeKey) {
    /**
     * Reads the opening frame. Its faults are refused as INVALID_ARGUMENT but prove nothing about
     * anyone: the key it names is only claimed.
     */
    static Opening parse(SyncFrame frame) throws SyncFailure {
      if (!frame.hasProof() || frame.getTurnBytes() != 0 || !frame.getTurn().isEmpty()
          || !frame.getRecords().isEmpty()) {
        throw SyncFailure.misbehaviour("the initiator's first frame must hold its proof's opening and nothing else"
            + " (docs/PROTOCOL.md \"Peer proofs\")", null);
      }
      PeerProof proof = frame.getProof();
      if (!proof.getSignature().isEmpty()) {
        throw SyncFailure.misbehaviour("the initiator's opening carries no signature", null);
      }
      if (proof.getCapsule().size() != Hash.LENGTH) {
        throw SyncFailure.misbehaviour("the initiator's opening must name a capsule (32 bytes), got "
            + proof.getCapsule().size(), null);
      }
      return new Opening(key(proof, "initiator"), nonceOf(proof, "initiator"),
          Hash.copyOf(proof.getCapsule().toByteArray()), exchangeKeyOf(proof, "initiator"));
    }

    /**
     * Sends the responder's answer, takes the initiator's first turn and verifies the signature on it.
     * Returns that frame (the session goes on with it) with the secret the hosts share, or null when the
     * initiator ended the stream (it refused this host's key).
     */
    @Nullable Answered answer(SigningKey self, ExchangeKey exchange, FrameChannel channel, Duration timeout)
        throws SyncFailure {
      byte[] pairSecret = pairSecret(exchange, exchangeKey, "initiator");
      byte[] mine = fresh();
      PublicKey me = self.publicKey();
      byte[] myExchange = exchange.publicKey();
      Signature signature = sign(self, RESPONDER, capsule, nonce, mine, initiator, me, exchangeKey, myExchange);
      channel.send(SyncFrame.newBuilder().setProof(PeerProof.newBuilder().setHostKey(bytes(me.toByteArray()))
          .setNonce(bytes(mine)).setSignature(bytes(signature.toByteArray()))
          .setExchangeKey(bytes(myExchange))).build(), timeout);
      SyncFrame first = channel.take(timeout);
      if (first == null) {
        return null;
      }
      PeerProof proof = first.getProof();
      if (!first.hasProof() || !proof.getHostKey().isEmpty() || !proof.getNonce().isEmpty()
          || !proof.getCapsule().isEmpty() || !proof.getExchangeKey().isEmpty()) {
        throw SyncFailure.misbehaviour("the initiator's first turn must carry its signature and no other proof field",
            null);
      }
      if (!initiator.verify(Domain.SYNC_PEER_PROOF, challenge(INITIATOR, capsule, nonce, mine, initiator, me,
          exchangeKey, myExchange), signature(proof, "initiator"))) {
        throw new SyncFailure(Status.Code.UNAUTHENTICATED, true,
            "the initiator's signature does not prove host key " + initiator.toHex(), null);
      }
      return new Answered(first, pairSecret);
    }
  }

  /** The initiator's first turn, and the secret the two hosts share ({@link ExchangeKey#pairSecret}). */
  @SuppressWarnings("ArrayRecordComponent") // a secret, handed on and never compared
  record Answered(SyncFrame first, byte[] pairSecret) {}

  // ---- fields

  private static PublicKey key(PeerProof proof, String who) throws SyncFailure {
    try {
      return PublicKey.copyOf(proof.getHostKey().toByteArray());
    } catch (IllegalArgumentException e) {
      throw SyncFailure.misbehaviour("the " + who + "'s host key: " + e.getMessage(), e);
    }
  }

  private static byte[] nonceOf(PeerProof proof, String who) throws SyncFailure {
    if (proof.getNonce().size() != NONCE_BYTES) {
      throw SyncFailure.misbehaviour("the " + who + "'s nonce must be " + NONCE_BYTES + " bytes, got "
          + proof.getNonce().size(), null);
    }
    return proof.getNonce().toByteArray();
  }

  private static byte[] exchangeKeyOf(PeerProof proof, String who) throws SyncFailure {
    if (proof.getExchangeKey().size() != EXCHANGE_KEY_BYTES) {
      throw SyncFailure.misbehaviour("the " + who + "'s exchange key must be " + EXCHANGE_KEY_BYTES
          + " bytes (X25519), got " + proof.getExchangeKey().size(), null);
    }
    return proof.getExchangeKey().toByteArray();
  }

  private static byte[] pairSecret(ExchangeKey mine, byte[] peer, String who) throws SyncFailure {
    try {
      return mine.pairSecret(peer);
    } catch (IllegalArgumentException e) {
      throw SyncFailure.misbehaviour("the " + who + "'s exchange key: " + e.getMessage(), e);
    }
  }

  private static Signature signature(PeerProof proof, String who) throws SyncFailure {
    if (proof.getSignature().size() != Signature.LENGTH) {
      throw SyncFailure.misbehaviour("the " + who + "'s signature must be " + Signature.LENGTH + " bytes, got "
          + proof.getSignature().size(), null);
    }
    return Signature.copyOf(proof.getSignature().toByteArray());
  }

  private static byte[] fresh() {
    byte[] nonce = new byte[NONCE_BYTES];
    RANDOM.nextBytes(nonce);
    return nonce;
  }

  private static ByteString bytes(byte[] value) {
    return ByteString.copyFrom(value);
  }
}
