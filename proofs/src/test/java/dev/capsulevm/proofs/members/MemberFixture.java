package dev.capsulevm.proofs.members;

import dev.capsulevm.proofs.Domain;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.Sha256;
import dev.capsulevm.proofs.crypto.PublicKey;
import dev.capsulevm.proofs.crypto.SigningKey;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;
import java.util.Map;

/** Keys from fixed seeds and ops with made-up record hashes, for the member tests. */
final class MemberFixture {
  static final PublicKey CREATOR = key(1);

  private MemberFixture() {}

  /** The public key of the signing key whose seed is 32 bytes of {@code fill}. */
  static PublicKey key(int fill) {
    byte[] seed = new byte[32];
    Arrays.fill(seed, (byte) fill);
    return SigningKey.fromSeed(seed).publicKey();
  }

  /** A genesis state of {@link #CREATOR} and these writers. */
  static MemberState genesis(Map<PublicKey, Integer> writers) {
    return MemberState.genesis(CREATOR, writers);
  }

  /** A made-up record hash for an op called {@code name}. */
  static Hash hashOf(String name) {
    return Sha256.hash(Domain.RECORD, name.getBytes(StandardCharsets.UTF_8));
  }

  /** An op called {@code name} written after {@code after} (its auth parents), one height above them. */
  static Op op(String name, PublicKey author, MemberChange change, Op... after) {
    long height = 1;
    for (Op parent : after) {
      height = Math.max(height, parent.height() + 1);
    }
    return new Op(hashOf(name), height, Arrays.stream(after).map(Op::hash).sorted().toList(), author, change);
  }

  static MemberChange set(PublicKey member, int bits) {
    return new MemberChange.SetMember(member, bits);
  }

  static Resolution resolve(MemberState genesis, List<Op> ops) {
    return Resolver.resolve(genesis, CREATOR, ops);
  }
}
