package dev.capsulevm.cli;

import dev.capsulevm.proofs.crypto.KeyFile;
import dev.capsulevm.proofs.crypto.SigningKey;
import dev.capsulevm.renter.access.EncryptionKey;
import dev.capsulevm.renter.access.MemberCard;
import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.concurrent.Callable;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code capsulevm keys}: Ed25519 key files. */
@Command(
    name = "keys",
    aliases = "key",
    mixinStandardHelpOptions = true,
    description = "Ed25519 signing keys (PEM PKCS#8 files), and this renter's member card.",
    subcommands = {KeysCommand.Generate.class, KeysCommand.Public.class, KeysCommand.Card.class})
final class KeysCommand {
  /** {@code keys generate --out FILE}. */
  @Command(
      name = "generate",
      mixinStandardHelpOptions = true,
      description = "Writes a new Ed25519 key to FILE (never overwrites) and prints its public key in hex.")
  static final class Generate implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Option(names = "--out", required = true, paramLabel = "FILE", description = "The key file to create.")
    Path out;

    @Override
    public Integer call() throws IOException {
      if (Files.exists(out, LinkOption.NOFOLLOW_LINKS)) {
        throw Args.usage(spec, out + " exists; refusing to overwrite a key file");
      }
      SigningKey key = SigningKey.generate();
      try {
        KeyFile.write(key, out);
      } catch (FileAlreadyExistsException e) {
        throw Args.usage(spec, out + " exists; refusing to overwrite a key file");
      } catch (NoSuchFileException e) {
        throw Args.usage(spec, "cannot create " + out + ": no such directory");
      }
      System.out.println(key.publicKey().toHex());
      return 0;
    }
  }

  /** {@code keys public --in FILE}. */
  @Command(
      name = "public",
      mixinStandardHelpOptions = true,
      description = "Prints the public key of the Ed25519 key in FILE, in hex.")
  static final class Public implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Option(names = "--in", required = true, paramLabel = "FILE", description = "The key file to read.")
    Path in;

    @Override
    public Integer call() {
      SigningKey key;
      try {
        key = KeyFile.read(in);
      } catch (IOException e) {
        throw Args.usage(spec, "cannot read " + in + ": " + e);
      } catch (IllegalArgumentException e) {
        throw Args.usage(spec, in + ": " + e.getMessage());
      }
      System.out.println(key.publicKey().toHex());
      return 0;
    }
  }

  /** {@code key card}: the renter's member card. */
  @Command(
      name = "card",
      mixinStandardHelpOptions = true,
      description = "Prints this renter's member card (cvm-member1:...): its identity (the account key) and its"
          + " X25519 encryption key, signed. Hand it to whoever shares a capsule with you (capsule share --to)."
          + " Makes encryption.key in the state on first use.")
  static final class Card implements Callable<Integer> {
    @Option(names = "--state", paramLabel = "DIR",
        description = "The renter's local state (default: $CAPSULEVM_STATE or the config's state, else ~/.capsulevm/renter).")
    @Nullable Path state;

    @Mixin ConfigArgs configArgs;

    @Option(names = "--account-key", paramLabel = "FILE",
        description = "The identity key (default: account.pem in the state, made on first use).")
    @Nullable Path accountKey;

    @Option(names = "--json", description = "Print one JSON object instead of readable text.")
    boolean json;

    @Override
    public Integer call() {
      return CapsuleCommand.guarded(() -> {
        RenterState renter = new RenterState(state != null ? state : RenterState.defaultRoot());
        SigningKey identity = renter.accountKey(accountKey);
        EncryptionKey key = renter.encryptionKey();
        MemberCard card = MemberCard.create(identity, key);
        if (json) {
          System.out.println(new Json().put("card", card.toString()).put("identity", identity.publicKey().toHex())
              .put("encryptionKey", HexFormat.of().formatHex(key.publicKey())));
        } else {
          System.out.println(card);
        }
        return 0;
      });
    }
  }
}
