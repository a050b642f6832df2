package dev.capsulevm.cli;

import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.capsule.SignedMetadata;
import dev.capsulevm.proofs.crypto.SigningKey;
import dev.capsulevm.renter.HostClient;
import dev.capsulevm.renter.RenterException;
import dev.capsulevm.renter.RenterOptions;
import dev.capsulevm.renter.access.AccessException;
import dev.capsulevm.renter.access.AccessString;
import dev.capsulevm.renter.access.CapsuleAccess;
import dev.capsulevm.renter.access.EncryptionKey;
import dev.capsulevm.renter.access.MemberCard;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code capsule share} and {@code capsule open}: access strings (docs/FORMAT.md, "Access strings and member cards"). */
final class CapsuleAccessCommand {
  private CapsuleAccessCommand() {}

  @Command(name = "share", mixinStandardHelpOptions = true,
      description = "Print an access string for a capsule this state knows: its hosts, id and creator. With --to"
          + " it is sealed to that member's card, so only that member can read it. Contacts no host.")
  static final class Share implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Option(names = "--capsule", required = true, paramLabel = "ID", description = "The capsule id (hex).")
    String capsule;

    @Option(names = "--to", paramLabel = "CARD",
        description = "Seal the string to this member card (cvm-member1:..., printed by `capsulevm key card`).")
    @Nullable String to;

    @Option(names = "--host", paramLabel = "HOST:PORT",
        description = "A host that holds the capsule; repeat for replicas, in the order to try them"
            + " (default: the hosts saved for the capsule).")
    List<String> hosts = new ArrayList<>();

    @Option(names = "--state", paramLabel = "DIR",
        description = "The renter's local state (default: $CAPSULEVM_STATE or the config's state, else ~/.capsulevm/renter).")
    @Nullable Path state;

    @Mixin ConfigArgs configArgs;

    @Option(names = "--json", description = "Print one JSON object instead of readable text.")
    boolean json;

    @Override
    public Integer call() {
      Hash id = Args.hash(spec, "--capsule", capsule);
      return CapsuleCommand.guarded(() -> {
        RenterState renter = new RenterState(state != null ? state : RenterState.defaultRoot());
        SignedMetadata metadata = renter.metadataOrNull(id);
        if (metadata == null) {
          throw new RenterException("capsule " + id.toHex() + " is not in the renter state " + renter.root()
              + " (create or open it here, or pass --state)");
        }
        List<String> listed = hosts.isEmpty() ? renter.hosts(id) : hosts;
        if (listed.isEmpty()) {
          throw Args.usage(spec, "no hosts are saved for capsule " + id.toHex() + ": name them with --host HOST:PORT");
        }
        AccessString access;
        try {
          access = AccessString.of(listed, id, metadata.metadata().creator());
        } catch (IllegalArgumentException e) {
          throw Args.usage(spec, "--host: " + e.getMessage());
        }
        MemberCard card = to == null ? null : MemberCard.parse(to);
        String text;
        try {
          text = card == null ? access.toString() : access.seal(card);
        } catch (IllegalArgumentException e) {
          throw new AccessException(String.valueOf(e.getMessage()), e);
        }
        if (json) {
          System.out.println(new Json().put("access", text).put("capsule", id.toHex())
              .put("creator", access.creator().toHex()).put("hosts", new ArrayList<Object>(access.hosts()))
              .put("sealedTo", card == null ? null : card.identity().toHex()));
        } else {
          System.out.println(text);
          System.err.println(card == null
              ? "plain: whoever reads it learns the hosts and the capsule id (seal it with --to CARD)"
              : "sealed to member " + card.identity().toHex() + ": only that member can open it");
        }
        return 0;
      });
    }
  }

  @Command(name = "open", mixinStandardHelpOptions = true,
      description = "Open an access string (plain, or sealed to this renter's card): fetch the capsule's metadata"
          + " from its hosts in order, check that it hashes to the id and names the string's creator, and save"
          + " the capsule and its hosts in the state; later commands without --host use the first host that"
          + " answers.")
  static final class Open implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin RenterArgs args;

    @Parameters(paramLabel = "ACCESS", description = "The access string (cvm-access1:... or cvm-sealed1:...).")
    String text;

    @Override
    public Integer call() {
      if (args.host != null) {
        throw Args.usage(spec, "capsule open takes its hosts from the access string; drop --host");
      }
      return CapsuleCommand.guarded(() -> {
        RenterState state = args.state();
        boolean sealed = AccessString.isSealed(text);
        AccessString access;
        if (sealed) {
          SigningKey identity = state.accountKey(args.accountKey);
          EncryptionKey key = state.encryptionKeyOrNull();
          // No key yet means no card was ever printed here, so nothing was sealed to this state; a throwaway
          // key gives the right refusal (another member, or a string that does not decrypt) and saves nothing.
          access = AccessString.open(text, identity, key != null ? key : EncryptionKey.generate());
        } else {
          access = AccessString.parse(text);
        }
        SigningKey account = state.accountKey(args.accountKey);
        RenterOptions options = args.options(state);
        CapsuleAccess opened = CapsuleAccess.fetch(access, host -> HostClient.connect(host, account,
            options.withReceiptListener(state.receipts().listener(host))));
        state.saveOpened(opened.metadata(), access.hosts());
        String id = access.capsuleId().toHex();
        boolean isPrivate = opened.metadata().isPrivate();
        if (args.json) {
          System.out.println(new Json().put("capsule", id).put("creator", access.creator().toHex())
              .put("servedBy", opened.host()).put("hosts", new ArrayList<Object>(access.hosts()))
              .put("sealed", sealed).put("private", isPrivate)
              .put("description", opened.metadata().metadata().description()));
        } else {
          System.out.println("capsule " + id + " opened: its metadata hashes to the id and is signed by its creator "
              + access.creator().toHex() + ", the string's (served by " + opened.host() + ")");
          System.out.println("hosts   " + String.join(", ", access.hosts()) + " (saved; commands without --host"
              + " use the first that answers)");
          if (isPrivate) {
            System.out.println("private its sub-records are encrypted: 'capsule read' decrypts them with this state's"
                + " encryption.key once a member has given this renter's card read"
                + (state.encryptionKeyOrNull() == null ? " (this state has none yet: 'key card' makes it)" : ""));
          }
        }
        return 0;
      });
    }
  }
}
