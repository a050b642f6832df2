package dev.capsulevm.proofs;

/**
 * The one-byte tags that separate every kind of hashed or signed object, so that bytes of one kind can
 * never be taken for another. The values are part of the format (docs/FORMAT.md) and never change.
 */
public enum Domain {
  /** RFC 9162 leaf: {@code H(0x00 || data)}. */
  MERKLE_LEAF(0x00),
  /** RFC 9162 interior node: {@code H(0x01 || left || right)}. */
  MERKLE_NODE(0x01),
  /** Capsule id: the hash of the signed metadata. */
  CAPSULE_ID(0x10),
  /** Record hash: the hash of a canonical record header. */
  RECORD(0x11),
  /** The creator's signature over a metadata body. */
  METADATA_SIGNATURE(0x20),
  /** A writer's signature over a record hash. */
  RECORD_SIGNATURE(0x21),
  /** A host's signature over a price table body. */
  PRICE_TABLE_SIGNATURE(0x30),
  /** An account holder's signature over a withdrawal body. */
  WITHDRAWAL_SIGNATURE(0x31),
  /** A host's signature over a receipt body. */
  RECEIPT_SIGNATURE(0x32),
  /** Price table id: the hash of a canonical price table body. */
  PRICE_TABLE_ID(0x33),
  /** Program id: the hash of a program's encoding and the withdrawal that pays for it. */
  PROGRAM_ID(0x34),
  /**
   * The first byte of every transcript entry (one output a host sent, with the instruction and inputs
   * it answers), inside the entry's RFC 9162 leaf, so an entry cannot be taken for any other leaf data.
   */
  TRANSCRIPT_ENTRY(0x35),
  /** The digest of the bytes an instruction's references point at, as a transcript entry carries it. */
  INPUTS_DIGEST(0x36),
  /** A host's signature over a balance statement body. */
  BALANCE_STATEMENT_SIGNATURE(0x37),
  /** An account holder's signature over a session request body: one withdrawal funding many programs. */
  SESSION_REQUEST_SIGNATURE(0x38),
  /** Session id: the hash of a signed session request. */
  SESSION_ID(0x39),
  /** A host's signature over a session grant (the session id and the host's exchange key). */
  SESSION_GRANT_SIGNATURE(0x3a),
  /** The first byte HMAC'd by a ticket: one program paid from a session. */
  TICKET_MAC(0x3b),
  /** The first byte HMAC'd by a session's close request. */
  SESSION_CLOSE_MAC(0x3c),
  /** The first byte HMAC'd by a sealed receipt: a session program's receipt under the session key. */
  RECEIPT_SEAL_MAC(0x3d),
  /** The first byte of every member entry, the leaf data of a member state's RFC 9162 tree. */
  MEMBER_ENTRY(0x40),
  /** Member root: the hash of a member state's retention policy and entries root. */
  MEMBER_ROOT(0x41),
  /** An access string's checksum: the first 4 bytes of {@code H(0x50 || access body)}. */
  ACCESS_CHECKSUM(0x50),
  /** A member's signature binding its X25519 encryption key to its Ed25519 identity (member card). */
  MEMBER_CARD_SIGNATURE(0x51),
  /** A host's signature over a sync session's challenge: its proof of its host key to the peer. */
  SYNC_PEER_PROOF(0x60);

  private final byte tag;

  Domain(int tag) {
    this.tag = (byte) tag;
  }

  /** The tag byte that prefixes the hashed or signed bytes. */
  public byte tag() {
    return tag;
  }
}
