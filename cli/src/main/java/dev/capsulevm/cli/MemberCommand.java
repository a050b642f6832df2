package dev.capsulevm.cli;

import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.capsule.Metadata;
import dev.capsulevm.proofs.capsule.RecordHeader;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.proofs.capsule.SignedMetadata;
import dev.capsulevm.proofs.crypto.PublicKey;
import dev.capsulevm.proofs.crypto.SigningKey;
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
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code capsulevm member}: add, remove and list the members of a version-2 capsule. A change is a signed
 * membership record appended like any record (the host checks the signer's right); the list is resolved
 * from the verified membership records below the newest verified heads.
 */
@Command(
    name = "member",
    mixinStandardHelpOptions = true,
    description = "Add, remove and list the members of a capsule (who may read, append, and change members).",
    subcommands = {MemberCommand.Add.class, MemberCommand.Remove.class, MemberCommand.ListMembers.class})
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
            + " digits ('keys public' of its account.pem).")
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

  /**
   * A member's key: its member card ({@code cvm-member1:...}, checked: its signature by the identity it
   * names) or 64 hex digits.
   *
   * @throws AccessException for a card that does not parse or verify
   */
  static PublicKey key(CommandSpec spec, String text) throws AccessException {
    if (text.strip().startsWith(MemberCard.PREFIX)) {
      return MemberCard.parse(text).identity();
    }
    byte[] bytes = Args.hex(spec, "--key", text);
    if (bytes.length != PublicKey.LENGTH) {
      throw Args.usage(spec, "--key must be " + PublicKey.LENGTH + " bytes (64 hex digits), got " + bytes.length);
    }
    return PublicKey.copyOf(bytes);
  }

  /**
   * Appends one membership change setting {@code member}'s bits, signed with the key this state acts with
   * for the capsule (its creator key, else its writer key, else its identity), and prints the record.
   */
  static int change(RenterArgs args, Hash id, PublicKey member, int bits) throws RenterException, IOException {
    RenterState state = args.state();
    try (HostClient client = args.connect(id)) {
      SigningKey signer = state.memberKey(id, args.accountKey);
      CapsuleWriter writer = state.writer(client, id, signer);
      requireVersion2(writer.metadata());
      RecordWithBody record = writer.setMember(client, member, bits);
      state.save(writer);
      RecordHeader header = record.record().header();
      ProgramResult result = RenterArgs.lastResult(writer);
      if (args.json) {
        System.out.println(new Json().put("record", header.hash().toHex()).put("height", header.height())
            .put("member", member.toHex()).put("bits", names(bits)).put("signedBy", signer.publicKey().toHex())
            .put("cost", RenterArgs.cost(result)));
      } else {
        System.out.println((bits == 0 ? "removed " : "member  ") + member.toHex()
            + (bits == 0 ? "" : " " + String.join(",", names(bits))));
        System.out.println("record  " + header.hash().toHex() + " at height " + header.height()
            + ", a membership change signed by " + signer.publicKey().toHex() + ", committed");
        System.out.println(RenterArgs.costLine(result));
      }
      return 0;
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
      return CapsuleCommand.guarded(() -> change(args, id, key(spec, target.key), bits));
    }
  }

  @Command(name = "remove", mixinStandardHelpOptions = true,
      description = "Remove a member with a signed membership record: its later appends are refused.")
  static final class Remove implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin RenterArgs args;
    @Mixin Target target;

    @Override
    public Integer call() {
      Hash id = Args.hash(spec, "--capsule", target.capsule);
      return CapsuleCommand.guarded(() -> change(args, id, key(spec, target.key), 0));
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
