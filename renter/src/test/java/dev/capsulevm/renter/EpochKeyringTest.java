package dev.capsulevm.renter;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.capsule.RecordHeader;
import dev.capsulevm.proofs.capsule.RecordKind;
import dev.capsulevm.proofs.crypto.PublicKey;
import dev.capsulevm.proofs.crypto.SigningKey;
import dev.capsulevm.proofs.members.EpochKey;
import dev.capsulevm.proofs.members.Keystore;
import dev.capsulevm.proofs.merkle.Merkle;
import dev.capsulevm.proofs.privacy.DecryptionException;
import dev.capsulevm.proofs.privacy.EpochSecret;
import dev.capsulevm.proofs.privacy.RecordCipher;
import dev.capsulevm.renter.access.EncryptionKey;
import dev.capsulevm.renter.access.MemberCard;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * How a reader finds an epoch's secret and opens payloads, without a host: its own wrap, previous links
 * through several epochs, and every way the bytes can be wrong (a flipped byte anywhere in a ciphertext,
 * an enc or a wrap; an entry made for someone else; a wrong key; a damaged link): a typed failure, never
 * garbage plaintext, and no secret in any message.
 */
class EpochKeyringTest {
  private static final SecureRandom RANDOM = new SecureRandom();
  private static final byte[] PLAINTEXT = "a private marker".getBytes(StandardCharsets.UTF_8);

  private final Hash capsule = Hash.copyOf(random(32));
  private final Party alice = new Party();
  private final Party bob = new Party();
  private final Party carol = new Party();
  private final EpochSecret first = EpochSecret.generate(RANDOM);
  private final EpochSecret second = EpochSecret.generate(RANDOM);
  /** The first epoch, wrapped for alice and bob. */
  private final Keystore genesis = Keystore.rotate(first.epochKey(), List.of(), List.of(alice.wrap(first), bob.wrap(first)));
  /** The second epoch, wrapped for carol alone, linked to the first. */
  private final Keystore rotation = Keystore.rotate(second.epochKey(), List.of(second.sealPrevious(first)),
      List.of(carol.wrap(second)));

  /** A member: its identity and X25519 key, and its card. */
  private static final class Party {
    final SigningKey identity = SigningKey.generate();
    final EncryptionKey key = EncryptionKey.generate();
    final MemberCard card = MemberCard.create(identity, key);

    Keystore.Entry wrap(EpochSecret secret) {
      return secret.wrapFor(identity.publicKey(), card.encryptionKey(), card.signature());
    }

    EpochKeyring keyring(Hash capsule) {
      return new EpochKeyring(capsule, key, List.of(identity.publicKey()));
    }
  }

  private static byte[] random(int n) {
    byte[] out = new byte[n];
    RANDOM.nextBytes(out);
    return out;
  }

  /** A data record at height 1 by alice under {@code epoch}, with {@code enc}, holding {@code payloads}. */
  private RecordHeader header(EpochKey epoch, byte[] enc, List<byte[]> payloads) {
    return RecordHeader.createV3(capsule, 1, 1_000, alice.identity.publicKey(), RecordKind.DATA, payloads.size(),
        Merkle.root(payloads), Hash.copyOf(random(32)), epoch, enc, List.of(), List.of(capsule), List.of());
  }

  /** A record under {@code secret}'s epoch holding {@link #PLAINTEXT}, encrypted. */
  private Sealed seal(EpochSecret secret) {
    RecordCipher cipher = RecordCipher.forWriter(secret.epochKey(), capsule, alice.identity.publicKey(), 1, RANDOM);
    byte[] payload = cipher.seal(0, PLAINTEXT);
    return new Sealed(header(secret.epochKey(), cipher.enc(), List.of(payload)), cipher.enc(), payload);
  }

  @SuppressWarnings("ArrayRecordComponent")
  private record Sealed(RecordHeader header, byte[] enc, byte[] payload) {}

  @Test
  void opensItsOwnWrapAndFollowsLinks() throws Exception {
    Sealed old = seal(first);
    Sealed fresh = seal(second);
    List<Keystore> blocks = List.of(genesis, rotation);
    assertArrayEquals(PLAINTEXT, bob.keyring(capsule).open(old.header(), 0, List.of(old.payload()), blocks).get(0));
    // Carol holds only the second epoch: its previous link gives her the first.
    EpochKeyring carols = carol.keyring(capsule);
    assertArrayEquals(PLAINTEXT, carols.open(fresh.header(), 0, List.of(fresh.payload()), blocks).get(0));
    assertArrayEquals(PLAINTEXT, carols.open(old.header(), 0, List.of(old.payload()), blocks).get(0));
    // Through several links: a third epoch for dave links the second, which links the first.
    Party dave = new Party();
    EpochSecret third = EpochSecret.generate(RANDOM);
    Keystore later = Keystore.rotate(third.epochKey(), List.of(third.sealPrevious(second)), List.of(dave.wrap(third)));
    assertArrayEquals(PLAINTEXT,
        dave.keyring(capsule).open(old.header(), 0, List.of(old.payload()), List.of(genesis, rotation, later)).get(0));
    // Bob is not in the second epoch and nothing links forward to it.
    MissingEpochKeyException missing = assertThrows(MissingEpochKeyException.class,
        () -> bob.keyring(capsule).open(fresh.header(), 0, List.of(fresh.payload()), blocks));
    assertEquals(second.epochKey(), missing.epochKey());
    assertEquals(fresh.header().hash(), missing.recordOrNull());
  }

  @Test
  void everyByteOfTheCiphertextMatters() throws Exception {
    Sealed sealed = seal(first);
    EpochKeyring keyring = bob.keyring(capsule);
    for (int i = 0; i < sealed.payload().length; i++) {
      byte[] flipped = sealed.payload().clone();
      flipped[i] ^= 0x01;
      DecryptionFailedException e = assertThrows(DecryptionFailedException.class,
          () -> keyring.open(sealed.header(), 0, List.of(flipped), List.of(genesis)));
      assertEquals(DecryptionException.Reason.DOES_NOT_DECRYPT, e.reason());
    }
    byte[] truncated = java.util.Arrays.copyOf(sealed.payload(), 10);
    assertThrows(DecryptionFailedException.class,
        () -> keyring.open(sealed.header(), 0, List.of(truncated), List.of(genesis)));
    // The same bytes at another index, or under another record's header, do not open either.
    assertThrows(DecryptionFailedException.class,
        () -> keyring.open(sealed.header(), 1, List.of(sealed.payload()), List.of(genesis)));
    Sealed other = seal(first);
    assertThrows(DecryptionFailedException.class,
        () -> keyring.open(other.header(), 0, List.of(sealed.payload()), List.of(genesis)));
  }

  @Test
  void everyByteOfTheEncMatters() {
    Sealed sealed = seal(first);
    EpochKeyring keyring = bob.keyring(capsule);
    for (int i = 0; i < sealed.enc().length; i++) {
      byte[] enc = sealed.enc().clone();
      enc[i] ^= 0x01;
      RecordHeader changed = header(first.epochKey(), enc, List.of(sealed.payload()));
      assertThrows(DecryptionFailedException.class,
          () -> keyring.open(changed, 0, List.of(sealed.payload()), List.of(genesis)));
    }
  }

  @Test
  void everyByteOfTheWrapMatters() throws Exception {
    Sealed sealed = seal(first);
    Keystore.Entry entry = bob.wrap(first);
    for (int i = 0; i < entry.enc().length + entry.wrapped().length; i++) {
      byte[] enc = entry.enc();
      byte[] wrapped = entry.wrapped();
      if (i < enc.length) {
        enc[i] ^= 0x01;
      } else {
        wrapped[i - enc.length] ^= 0x01;
      }
      Keystore block = Keystore.rotate(first.epochKey(), List.of(),
          List.of(new Keystore.Entry(entry.member(), entry.x25519(), entry.cardSignature(), enc, wrapped)));
      DecryptionFailedException e = assertThrows(DecryptionFailedException.class,
          () -> bob.keyring(capsule).open(sealed.header(), 0, List.of(sealed.payload()), List.of(block)));
      assertEquals(DecryptionException.Reason.DOES_NOT_DECRYPT, e.reason());
    }
  }

  @Test
  void anEntryWrappedForSomeoneElseDoesNotOpen() {
    Sealed sealed = seal(first);
    Keystore.Entry forAlice = alice.wrap(first);
    Keystore.Entry forBob = bob.wrap(first);
    // Bob's card, carrying the wrap made for alice (another member in its info, another x25519 key).
    Keystore swapped = Keystore.rotate(first.epochKey(), List.of(),
        List.of(new Keystore.Entry(forBob.member(), forBob.x25519(), forBob.cardSignature(), forAlice.enc(),
            forAlice.wrapped())));
    DecryptionFailedException e = assertThrows(DecryptionFailedException.class,
        () -> bob.keyring(capsule).open(sealed.header(), 0, List.of(sealed.payload()), List.of(swapped)));
    assertEquals(DecryptionException.Reason.DOES_NOT_DECRYPT, e.reason());

    // An entry naming bob but wrapped to carol's x25519 key: not for bob's key, nothing tried.
    Keystore elsewhere = Keystore.rotate(first.epochKey(), List.of(),
        List.of(first.wrapFor(bob.identity.publicKey(), carol.card.encryptionKey(), carol.card.signature())));
    DecryptionFailedException notForBob = assertThrows(DecryptionFailedException.class,
        () -> bob.keyring(capsule).open(sealed.header(), 0, List.of(sealed.payload()), List.of(elsewhere)));
    assertEquals(DecryptionException.Reason.NOT_FOR_YOU, notForBob.reason());
  }

  @Test
  void aWrongKeyIsRefused() {
    Sealed sealed = seal(first);
    EpochKeyring wrongKey = new EpochKeyring(capsule, EncryptionKey.generate(), List.of(bob.identity.publicKey()));
    DecryptionFailedException e = assertThrows(DecryptionFailedException.class,
        () -> wrongKey.open(sealed.header(), 0, List.of(sealed.payload()), List.of(genesis)));
    assertEquals(DecryptionException.Reason.NOT_FOR_YOU, e.reason());
    // A stranger with its own key finds nothing to open.
    Party stranger = new Party();
    assertThrows(MissingEpochKeyException.class,
        () -> stranger.keyring(capsule).open(sealed.header(), 0, List.of(sealed.payload()), List.of(genesis)));
  }

  @Test
  void aDamagedLinkIsRefused() {
    Sealed old = seal(first);
    Keystore.PreviousLink link = rotation.previous().get(0);
    byte[] sealedSecret = link.sealed();
    sealedSecret[5] ^= 0x01;
    Keystore damaged = Keystore.rotate(second.epochKey(), List.of(new Keystore.PreviousLink(link.epochKey(), sealedSecret)),
        List.of(carol.wrap(second)));
    DecryptionFailedException e = assertThrows(DecryptionFailedException.class,
        () -> carol.keyring(capsule).open(old.header(), 0, List.of(old.payload()), List.of(genesis, damaged)));
    assertEquals(DecryptionException.Reason.DOES_NOT_DECRYPT, e.reason());
  }

  @Test
  void noSecretInAnyMessage() {
    Sealed sealed = seal(second);
    HexFormat hex = HexFormat.of();
    List<String> secrets = new ArrayList<>();
    secrets.add(hex.formatHex(first.toBytes()));
    secrets.add(hex.formatHex(second.toBytes()));
    secrets.add(hex.formatHex(bob.key.privateKeyParameters().getEncoded()));
    EpochKeyring keyring = bob.keyring(capsule);
    MissingEpochKeyException missing = assertThrows(MissingEpochKeyException.class,
        () -> keyring.open(sealed.header(), 0, List.of(sealed.payload()), List.of(genesis, rotation)));
    EpochKeyring wrong = new EpochKeyring(capsule, EncryptionKey.generate(), List.of(carol.identity.publicKey()));
    DecryptionFailedException failed = assertThrows(DecryptionFailedException.class,
        () -> wrong.open(sealed.header(), 0, List.of(sealed.payload()), List.of(genesis, rotation)));
    for (String text : List.of(missing.getMessage(), failed.getMessage(), keyring.toString(), bob.key.toString())) {
      for (String secret : secrets) {
        assertFalse(text.contains(secret), text);
      }
    }
    assertTrue(missing.getMessage().contains(second.epochKey().toHex()), missing.getMessage());
  }

  @Test
  void anEpochNoBlockNamesIsMissing() {
    EpochSecret unknown = EpochSecret.generate(RANDOM);
    Sealed sealed = seal(unknown);
    MissingEpochKeyException e = assertThrows(MissingEpochKeyException.class,
        () -> bob.keyring(capsule).open(sealed.header(), 0, List.of(sealed.payload()), List.of(genesis, rotation)));
    assertEquals(unknown.epochKey(), e.epochKey());
    assertTrue(e.getMessage().contains("no keystore block this renter holds names that epoch"), e.getMessage());
  }

  @Test
  void identitiesAloneDoNotOpen() {
    // A renter without an X25519 key opens nothing, and says so.
    Sealed sealed = seal(first);
    EpochKeyring keyless = new EpochKeyring(capsule, null, List.<PublicKey>of(bob.identity.publicKey()));
    MissingEpochKeyException e = assertThrows(MissingEpochKeyException.class,
        () -> keyless.open(sealed.header(), 0, List.of(sealed.payload()), List.of(genesis)));
    assertTrue(e.getMessage().contains("no encryption key"), e.getMessage());
  }
}
