package dev.capsulevm.proofs.members;

import dev.capsulevm.proofs.CanonicalReader;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.VerificationException.Failure;
import dev.capsulevm.proofs.crypto.PublicKey;
import java.nio.ByteBuffer;
import java.util.Objects;

/**
 * The change a membership record makes: sub-record 0 of the record, laid out in docs/FORMAT.md
 * ("Members"). Sets one member's permission bits (0 removes it), sets the retention policy, or (private
 * capsules only) starts a new epoch without changing any member.
 */
public sealed interface MemberChange permits MemberChange.SetMember, MemberChange.SetRetention, MemberChange.Rekey {
  /** The change body version this code reads and writes. */
  int VERSION = 1;
  /** Type byte of {@link SetMember}. */
  int TYPE_SET_MEMBER = 1;
  /** Type byte of {@link SetRetention}. */
  int TYPE_SET_RETENTION = 2;
  /** Type byte of {@link Rekey}. */
  int TYPE_REKEY = 3;

  /**
   * Sets {@code member}'s bits to {@code bits}, a subset of {@link Rights#ALL} (read, add, admin,
   * superadmin); 0 removes the member.
   */
  record SetMember(PublicKey member, int bits) implements MemberChange {
    /** @throws IllegalArgumentException when bits holds anything outside {@link Rights#ALL} */
    public SetMember {
      Objects.requireNonNull(member, "member");
      if ((bits & ~Rights.ALL) != 0) {
        throw new IllegalArgumentException(
            "member bits " + Rights.hex(bits) + " hold bits outside " + Rights.hex(Rights.ALL));
      }
    }

    @Override
    public byte[] encode() {
      ByteBuffer out = ByteBuffer.allocate(35);
      out.put((byte) VERSION).put((byte) TYPE_SET_MEMBER).put(member.toByteArray()).put((byte) bits);
      return out.array();
    }
  }

  /** Sets the capsule's retention policy. */
  record SetRetention(RetentionPolicy policy) implements MemberChange {
    public SetRetention {
      Objects.requireNonNull(policy, "policy");
    }

    @Override
    public byte[] encode() {
      ByteBuffer out = ByteBuffer.allocate(11);
      out.put((byte) VERSION).put((byte) TYPE_SET_RETENTION);
      out.put((byte) policy.mode().code()).putLong(policy.value());
      return out.array();
    }
  }

  /**
   * Starts a new epoch of a private capsule without changing any member: the record carries a rotate
   * keystore block. The author must hold read. Refused in capsules that are not private.
   */
  record Rekey() implements MemberChange {
    @Override
    public byte[] encode() {
      return new byte[] {(byte) VERSION, (byte) TYPE_REKEY};
    }
  }

  /** The canonical change body. */
  byte[] encode();

  /**
   * Parses a change body, refusing every other form.
   *
   * @throws VerificationException {@link Failure#MALFORMED_ENCODING} naming what is wrong
   */
  static MemberChange parse(byte[] body) throws VerificationException {
    Objects.requireNonNull(body, "body");
    CanonicalReader in = new CanonicalReader(body, "member change");
    int version = in.u8("version");
    if (version != VERSION) {
      throw new VerificationException(
          Failure.MALFORMED_ENCODING, "unknown member change version " + version + " (expected 1)");
    }
    int type = in.u8("type");
    MemberChange change;
    if (type == TYPE_SET_MEMBER) {
      PublicKey member = in.publicKey("member key");
      int bits = in.u8("bits");
      if ((bits & ~Rights.ALL) != 0) {
        throw new VerificationException(
            Failure.MALFORMED_ENCODING,
            "member change for " + member.toHex() + " sets bits " + Rights.hex(bits)
                + ", outside " + Rights.hex(Rights.ALL));
      }
      change = new SetMember(member, bits);
    } else if (type == TYPE_SET_RETENTION) {
      change = new SetRetention(RetentionPolicy.read(in));
    } else if (type == TYPE_REKEY) {
      change = new Rekey();
    } else {
      throw new VerificationException(
          Failure.MALFORMED_ENCODING, "unknown member change type " + type + " (expected 1, 2 or 3)");
    }
    in.end();
    return change;
  }
}
