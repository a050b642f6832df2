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
import java.security.SecureRandom;
import java.time.Duration;
import org.jspecify.annotations.Nullable;

/**
 * The peer proof that opens every sync session (docs/PROTOCOL.md "Peer proofs", docs/FORMAT.md "Sync
 * peer proof"): each host signs a challenge made of fresh nonces from both sides, the capsule and both
 * host keys, so neither signature can be replayed into another session, for another capsule, to another
 * peer, or in the other role. It proves the key over plaintext and TLS alike.
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

  private static final SecureRandom RANDOM = new SecureRandom();

  private PeerHandshake() {}

  /**
   * The signed message (the domain tag 0x60 goes before it): {@code role || capsule id ||
   * initiator nonce || responder nonce || initiator key || responder key}, 161 bytes.
   */
  static byte[] challenge(byte role, Hash capsule, byte[] initiatorNonce, byte[] responderNonce,
      PublicKey initiator, PublicKey responder) {
    byte[] out = new byte[1 + Hash.LENGTH + 2 * NONCE_BYTES + 2 * PublicKey.LENGTH];
    out[0] = role;
    capsule.copyTo(out, 1);
    int at = 1 + Hash.LENGTH;
    System.arraycopy(initiatorNonce, 0, out, at, NONCE_BYTES);
    System.arraycopy(responderNonce, 0, out, at + NONCE_BYTES, NONCE_BYTES);
    initiator.copyTo(out, at + 2 * NONCE_BYTES);
    responder.copyTo(out, at + 2 * NONCE_BYTES + PublicKey.LENGTH);
    return out;
  }

  static Signature sign(SigningKey key, byte role, Hash capsule, byte[] initiatorNonce, byte[] responderNonce,
      PublicKey initiator, PublicKey responder) {
    return key.sign(Domain.SYNC_PEER_PROOF, challenge(role, capsule, initiatorNonce, responderNonce, initiator,
        responder));
  }

  // ---- the initiator

  /** The initiator's half: its nonce, then the responder's proven key. */
  static final class Initiator {
    private final SigningKey self;
    private final Hash capsule;
    private final byte[] nonce = fresh();

    Initiator(SigningKey self, Hash capsule) {
      this.self = self;
      this.capsule = capsule;
    }

    /** The opening frame: this host's key, its nonce and the capsule; no turn. */
    SyncFrame opening() {
      return SyncFrame.newBuilder().setProof(PeerProof.newBuilder().setHostKey(bytes(self.publicKey().toByteArray()))
          .setNonce(bytes(nonce)).setCapsule(bytes(capsule.toByteArray()))).build();
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
      Signature signature = signature(proof, "responder");
      PublicKey me = self.publicKey();
      if (!responder.verify(Domain.SYNC_PEER_PROOF,
          challenge(RESPONDER, capsule, nonce, responderNonce, me, responder), signature)) {
        throw new SyncFailure(Status.Code.UNAUTHENTICATED, true,
            "the responder's signature does not prove host key " + responder.toHex(), null);
      }
      Signature mine = sign(self, INITIATOR, capsule, nonce, responderNonce, me, responder);
      return new Proven(responder, PeerProof.newBuilder().setSignature(bytes(mine.toByteArray())).build());
    }
  }

  /** The responder's proven key, and the initiator's signature to send with its first turn. */
  record Proven(PublicKey peer, PeerProof signature) {}

  // ---- the responder

  /** What the initiator's opening frame claims: its key (not proven yet), its nonce, the capsule. */
  @SuppressWarnings("ArrayRecordComponent") // a nonce, copied on the way in and never compared
  record Opening(PublicKey initiator, byte[] nonce, Hash capsule) {
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
          Hash.copyOf(proof.getCapsule().toByteArray()));
    }

    /**
     * Sends the responder's answer, takes the initiator's first turn and verifies the signature on it.
     * Returns that frame (the session goes on with it), or null when the initiator ended the stream (it
     * refused this host's key).
     */
    @Nullable SyncFrame answer(SigningKey self, FrameChannel channel, Duration timeout) throws SyncFailure {
      byte[] mine = fresh();
      PublicKey me = self.publicKey();
      Signature signature = sign(self, RESPONDER, capsule, nonce, mine, initiator, me);
      channel.send(SyncFrame.newBuilder().setProof(PeerProof.newBuilder().setHostKey(bytes(me.toByteArray()))
          .setNonce(bytes(mine)).setSignature(bytes(signature.toByteArray()))).build(), timeout);
      SyncFrame first = channel.take(timeout);
      if (first == null) {
        return null;
      }
      PeerProof proof = first.getProof();
      if (!first.hasProof() || !proof.getHostKey().isEmpty() || !proof.getNonce().isEmpty()
          || !proof.getCapsule().isEmpty()) {
        throw SyncFailure.misbehaviour("the initiator's first turn must carry its signature and no other proof field",
            null);
      }
      if (!initiator.verify(Domain.SYNC_PEER_PROOF, challenge(INITIATOR, capsule, nonce, mine, initiator, me),
          signature(proof, "initiator"))) {
        throw new SyncFailure(Status.Code.UNAUTHENTICATED, true,
            "the initiator's signature does not prove host key " + initiator.toHex(), null);
      }
      return first;
    }
  }

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
