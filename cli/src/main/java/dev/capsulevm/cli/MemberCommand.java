package dev.capsulevm.cli;

import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.capsule.Metadata;
import dev.capsulevm.proofs.capsule.RecordHeader;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.proofs.capsule.SignedMetadata;
import dev.capsulevm.proofs.crypto.PublicKey;
import dev.capsulevm.proofs.crypto.SigningKey;
import dev.capsulevm.proofs.members.Keystore;
import dev.capsulevm.proofs.members.Op;
import dev.capsulevm.proofs.members.Rights;
import dev.capsulevm.renter.CapsuleMembers;
import dev.capsulevm.renter.CapsuleReader;
import dev.capsulevm.renter.CapsuleWriter;
import dev.capsulevm.renter.HostClient;
import dev.capsulevm.renter.ProgramResult;
import dev.capsulevm.renter.RenterException;
import dev.capsulevm.renter.access.AccessException;
import dev.capsulevm.renter.access.MemberCard;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.Callable;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code capsulevm member}: add, remove and list the members of a capsule with members (format 2 or 3). A
 * change is a signed membership record appended like any record (the host checks the signer's right); the
 * list is resolved from the verified membership records below the newest verified heads. In a private
 * capsule a change carries the keystore block it needs: adding a reader wraps the capsule's key for its
 * card, removing one starts a new epoch, and {@code rekey} starts one without a change.
 */
@Command(
    name = "member",
    mixinStandardHelpOptions = true,
    description = "Add, remove and list the members of a capsule (who may read, append, and change members).",
    subcommands = {MemberCommand.Add.class, MemberCommand.Remove.class, MemberCommand.ListMembers.class,
        MemberCommand.Rekey.class})
final class MemberCommand {
  /** Permission names, in bit order, as {@code --perm} takes them and {@code list} prints them. */
  static final Map<String, Integer> PERMISSIONS = new java.util.LinkedHashMap<>();

  static {
    PERMISSIONS.put("read", Rights.READ);
    PERMISSIONS.put("add", Rights.ADD);
    PERMISSIONS.put("admin", Rights.ADMIN);
    PERMISSIONS.put("superadmin", Rights.SUPERADMIN);
  }

  private MemberCommand() {}

  /** The capsule and the member's key, shared by add and remove. */
  static final class Target {
    @Option(names = "--capsule", required = true, paramLabel = "ID", description = "The capsule id (hex).")
    String capsule;

    @Option(names = "--key", required = true, paramLabel = "KEY",
        description = "The member: its member card (cvm-member1:..., from 'key card') or its identity key in 64 hex"
            + " digits ('keys public' of its account.pem). Giving read in a private capsule needs the card.")
    String key;
  }

  /** {@code --perm read,add,...} as bits. */
  static int bits(CommandSpec spec, String text) {
    int bits = 0;
    for (String name : text.split(",", -1)) {
      Integer bit = PERMISSIONS.get(name.strip().toLowerCase(Locale.ROOT));
      if (bit == null) {
        throw Args.usage(spec, "--perm: unknown permission '" + name.strip() + "' (use read, add, admin, superadmin,"
            + " comma separated)");
      }
      bits |= bit;
    }
    return bits;
  }

  /** Bits as permission names, e.g. {@code [read, add]}. */
  static List<String> names(int bits) {
    List<String> out = new ArrayList<>();
    PERMISSIONS.forEach((name, bit) -> {
      if ((bits & bit) != 0) {
        out.add(name);
      }
    });
    return out;
  }

  /** A member as {@code --key} names it: its identity, and its card when a card was given. */
  record Member(PublicKey key, @Nullable MemberCard cardOrNull) {}

  /**
   * A member's key: its member card ({@code cvm-member1:...}, checked: its signature by the identity it
   * names) or 64 hex digits.
   *
   * @throws AccessException for a card that does not parse or verify
   */
  static Member member(CommandSpec spec, String text) throws AccessException {
    if (text.strip().startsWith(MemberCard.PREFIX)) {
      MemberCard card = MemberCard.parse(text);
      return new Member(card.identity(), card);
    }
    byte[] bytes = Args.hex(spec, "--key", text);
    if (bytes.length != PublicKey.LENGTH) {
      throw Args.usage(spec, "--key must be " + PublicKey.LENGTH + " bytes (64 hex digits), got " + bytes.length);
    }
    return new Member(PublicKey.copyOf(bytes), null);
  }

  /**
   * Appends one membership change setting {@code member}'s bits, signed with the key this state acts with
   * for the capsule (its creator key, else its writer key, else its identity), and prints the record. In a
   * private capsule, giving read needs the member's card: a hex key alone is a usage error.
   */
  static int change(CommandSpec spec, RenterArgs args, Hash id, Member member, int bits)
      throws RenterException, IOException {
    RenterState state = args.state();
    try (HostClient client = args.connect(id)) {
      SigningKey signer = state.memberKey(id, args.accountKey);
      CapsuleWriter writer = state.writer(client, id, signer);
      requireVersion2(writer.metadata());
      MemberCard card = member.cardOrNull();
      RecordWithBody record;
      try {
        record = card != null ? writer.setMember(client, card, bits) : writer.setMember(client, member.key(), bits);
      } catch (IllegalArgumentException e) {
        // A private capsule's new reader named by its identity alone: its card carries the key to wrap to.
        throw Args.usage(spec, "--key: " + e.getMessage() + "; pass its card (its 'capsulevm key card')");
      } catch (IllegalStateException e) {
        // A keystore block over the capsule's sub-record limit: nothing was sent.
        throw new RenterException(String.valueOf(e.getMessage()), e);
      }
      state.save(writer);
      printChange(args, writer, record, signer, member.key(), bits);
      return 0;
    }
  }

  /** Prints a committed membership record: the change, the record, and in a private capsule its keystore block. */
  static void printChange(RenterArgs args, CapsuleWriter writer, RecordWithBody record, SigningKey signer,
      @Nullable PublicKey memberOrNull, int bits) {
    RecordHeader header = record.record().header();
    ProgramResult result = RenterArgs.lastResult(writer);
    Keystore block = keystoreOrNull(record);
    if (args.json) {
      System.out.println(new Json().put("record", header.hash().toHex()).put("height", header.height())
          .put("member", memberOrNull == null ? null : memberOrNull.toHex())
          .put("bits", memberOrNull == null ? null : names(bits)).put("signedBy", signer.publicKey().toHex())
          .put("keystore", block == null ? null : new Json().put("type", block.type().name().toLowerCase(Locale.ROOT))
              .put("epoch", block.epochKey().toHex()).put("entries", block.entries().size())
              .put("previous", block.previous().size()))
          .put("cost", RenterArgs.cost(result)));
      return;
    }
    if (memberOrNull != null) {
      System.out.println((bits == 0 ? "removed " : "member  ") + memberOrNull.toHex()
          + (bits == 0 ? "" : " " + String.join(",", names(bits))));
    }
    System.out.println("record  " + header.hash().toHex() + " at height " + header.height()
        + ", a membership change signed by " + signer.publicKey().toHex() + ", committed");
    if (block != null) {
      System.out.println(block.type() == Keystore.Type.FORWARD
          ? "keys    epoch " + block.epochKey().toHex() + " wrapped for the new reader's card"
          : "keys    new epoch " + block.epochKey().toHex() + " wrapped for " + block.entries().size()
              + " reader(s), linked to " + block.previous().size() + " earlier epoch(s); what is written from now"
              + " on opens only for them");
    } else if (writer.isPrivate() && bits == 0 && memberOrNull != null
        && memberOrNull.equals(signer.publicKey())) {
      System.out.println("keys    no usable epoch is left until a reader rekeys ('member rekey'; a reader's next"
          + " write does it)");
    }
    System.out.println(RenterArgs.costLine(result));
  }

  /** The keystore block a private capsule's membership record carries as sub-record 1, or null. */
  private static @Nullable Keystore keystoreOrNull(RecordWithBody record) {
    if (record.payloads().size() < 2) {
      return null;
    }
    try {
      return Keystore.parse(record.payloads().get(1));
    } catch (VerificationException e) {
      throw new IllegalStateException("a committed membership record's keystore block parses", e);
    }
  }

  static void requireVersion2(SignedMetadata metadata) throws RenterException {
    if (metadata.metadata().version() == Metadata.VERSION) {
      throw new RenterException("capsule " + metadata.capsuleId() + " has version-1 metadata: its writers are fixed"
          + " (members can be changed in capsules created since format version 3)");
    }
  }

  @Command(name = "add", mixinStandardHelpOptions = true,
      description = "Grant a key permissions (read, add, admin, superadmin) with a signed membership record; for a"
          + " member already there, set them. Admins change plain members, superadmins change admins, only the"
          + " creator changes superadmins.")
  static final class Add implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin RenterArgs args;
    @Mixin Target target;

    @Option(names = "--perm", required = true, paramLabel = "PERMS",
        description = "Comma-separated permissions: read, add, admin, superadmin.")
    String perm;

    @Override
    public Integer call() {
      Hash id = Args.hash(spec, "--capsule", target.capsule);
      int bits = bits(spec, perm);
      if (bits == 0) {
        throw Args.usage(spec, "--perm names no permission; 'member remove' removes a member");
      }
      return CapsuleCommand.guarded(() -> change(spec, args, id, member(spec, target.key), bits));
    }
  }

  @Command(name = "remove", mixinStandardHelpOptions = true,
      description = "Remove a member with a signed membership record: its later appends are refused. In a private"
          + " capsule removing a reader starts a new epoch it cannot open (it keeps what it could read before).")
  static final class Remove implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin RenterArgs args;
    @Mixin Target target;

    @Override
    public Integer call() {
      Hash id = Args.hash(spec, "--capsule", target.capsule);
      return CapsuleCommand.guarded(() -> change(spec, args, id, member(spec, target.key), 0));
    }
  }

  @Command(name = "rekey", mixinStandardHelpOptions = true,
      description = "Start a new epoch of a private capsule (needs read): a fresh key wrapped for every reader,"
          + " linked to the epochs this state holds. What makes the capsule writable again after a member left.")
  static final class Rekey implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin RenterArgs args;

    @Option(names = "--capsule", required = true, paramLabel = "ID", description = "The capsule id (hex).")
    String capsule;

    @Override
    public Integer call() {
      Hash id = Args.hash(spec, "--capsule", capsule);
      return CapsuleCommand.guarded(() -> {
        RenterState state = args.state();
        try (HostClient client = args.connect(id)) {
          SigningKey signer = state.memberKey(id, args.accountKey);
          CapsuleWriter writer = state.writer(client, id, signer);
          if (!writer.isPrivate()) {
            throw new RenterException("capsule " + id.toHex() + " is not private: it has no keys to rotate");
          }
          RecordWithBody record = writer.rekey(client);
          state.save(writer);
          printChange(args, writer, record, signer, null, 0);
          return 0;
        }
      });
    }
  }

  @Command(name = "list", mixinStandardHelpOptions = true,
      description = "Who holds what as of the newest heads (verified: the membership records below them are"
          + " fetched with proofs and resolved from the metadata).")
  static final class ListMembers implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin RenterArgs args;

    @Option(names = "--capsule", required = true, paramLabel = "ID", description = "The capsule id (hex).")
    String capsule;

    @Override
    public Integer call() {
      Hash id = Args.hash(spec, "--capsule", capsule);
      return CapsuleCommand.guarded(() -> {
        RenterState state = args.state();
        try (HostClient client = args.connect(id)) {
          CapsuleMembers members;
          ProgramResult result;
          SignedMetadata metadata;
          if (state.writes(id)) {
            CapsuleWriter writer = state.load(id);
            requireVersion2(writer.metadata());
            members = writer.members(client);
            state.save(writer);
            metadata = writer.metadata();
            result = RenterArgs.lastResult(writer);
          } else {
            CapsuleReader reader = state.reader(client, id);
            requireVersion2(reader.metadata());
            members = reader.members();
            state.save(reader);
            metadata = reader.metadata();
            result = Objects.requireNonNull(reader.lastResult(), "the reader ran its Heads program");
          }
          print(args, metadata, members, result);
          return 0;
        }
      });
    }

    private static void print(RenterArgs args, SignedMetadata metadata, CapsuleMembers members, ProgramResult result) {
      PublicKey creator = metadata.metadata().creator();
      if (args.json) {
        List<Object> list = new ArrayList<>();
        members.members().forEach((key, bits) -> {
          Op grant = members.grantOrNull(key);
          list.add(new Json().put("key", key.toHex()).put("bits", names(bits)).put("creator", key.equals(creator))
              .put("grantedBy", grant == null ? null : new Json().put("record", grant.hash().toHex())
                  .put("height", grant.height()).put("signedBy", grant.author().toHex())));
        });
        System.out.println(new Json().put("capsule", metadata.capsuleId().toHex()).put("members", list)
            .put("retention", new Json().put("mode", members.retention().mode().name())
                .put("value", members.retention().value()))
            .put("changes", members.changes().size()).put("void", members.resolution().voided().size())
            .put("heads", CapsuleCommand.hexes(members.heads())).put("cost", RenterArgs.cost(result)));
        return;
      }
      members.members().forEach((key, bits) -> {
        Op grant = members.grantOrNull(key);
        String source = key.equals(creator) ? "the creator"
            : grant == null ? "from the metadata"
            : "granted by record " + grant.hash().toHex() + " (height " + grant.height() + ", signed by "
                + grant.author().toHex() + ")";
        System.out.println("member  " + key.toHex() + " " + String.join(",", names(bits)) + "  " + source);
      });
      System.out.println("retention " + members.retention().mode().name().toLowerCase(Locale.ROOT)
          + (members.retention().value() == 0 ? "" : " " + members.retention().value()));
      System.out.println("verified: " + members.changes().size() + " membership change(s) in effect"
          + (members.resolution().voided().isEmpty() ? "" : ", " + members.resolution().voided().size() + " void")
          + ", as of head(s) " + String.join(", ", CapsuleCommand.hexes(members.heads())));
      System.out.println(RenterArgs.costLine(result));
    }
  }
}
