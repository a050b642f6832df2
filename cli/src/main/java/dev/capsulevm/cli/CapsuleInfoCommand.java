package dev.capsulevm.cli;

import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.capsule.Metadata;
import dev.capsulevm.proofs.capsule.Record;
import dev.capsulevm.proofs.capsule.RecordHeader;
import dev.capsulevm.proofs.capsule.SignedMetadata;
import dev.capsulevm.proofs.crypto.PublicKey;
import dev.capsulevm.proofs.members.Op;
import dev.capsulevm.renter.CapsuleMembers;
import dev.capsulevm.renter.DroppedSubRecord;
import dev.capsulevm.renter.HeadTracker;
import dev.capsulevm.renter.HostClient;
import dev.capsulevm.renter.ProgramResult;
import dev.capsulevm.renter.RenterException;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code capsule list} (what this renter's state knows, offline) and {@code capsule info ID} (what the host
 * holds, verified: the metadata, which hashes to the id, and the heads and members as of now).
 */
final class CapsuleInfoCommand {
  private CapsuleInfoCommand() {}

  /** What this state holds of a capsule: its keys and its saved hosts. */
  static List<String> keysHeld(RenterState state, Hash id) {
    List<String> keys = new ArrayList<>();
    for (String name : List.of("creator", "writer")) {
      if (Files.exists(state.capsuleDir(id).resolve(name + ".pem"))) {
        keys.add(name);
      }
    }
    return keys;
  }

  /** The keys as words: {@code creator, writer}, or what acting without them means. */
  static String describeKeys(List<String> keys) {
    return keys.isEmpty() ? "none (reads; writes as a member with the account key)" : String.join(", ", keys);
  }

  @Command(name = "list", mixinStandardHelpOptions = true,
      description = "List the capsules this renter's state knows, with what it holds of each: its keys, the heads it"
          + " last verified, its hosts and its description. Offline: capsule info asks the host.")
  static final class ListCapsules implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin RenterArgs args;

    @Override
    public Integer call() {
      return CapsuleCommand.guarded(() -> {
        RenterState state = args.state();
        List<Known> known = known(state);
        if (args.json) {
          List<Object> list = new ArrayList<>();
          for (Known k : known) {
            Metadata m = k.metadata().metadata();
            List<Object> heads = new ArrayList<>();
            k.heads().forEach(h -> heads.add(new Json().put("hash", h.hash().toHex()).put("height", h.height())));
            list.add(new Json().put("capsule", k.id().toHex()).put("description", m.description())
                .put("version", m.version()).put("private", m.isPrivate()).put("keys", k.keys())
                .put("heads", heads).put("hosts", k.hosts()).put("createdAtMillis", m.createdAtMillis()));
          }
          System.out.println(new Json().put("state", state.root().toString()).put("capsules", list));
          return 0;
        }
        if (known.isEmpty()) {
          System.out.println("no capsules in " + state.root() + " (capsule create, or capsule open an access string)");
          return 0;
        }
        for (Known k : known) {
          Metadata m = k.metadata().metadata();
          HeadTracker.VouchedHead highest = null;
          for (HeadTracker.VouchedHead h : k.heads()) {
            if (highest == null || h.height() > highest.height()) {
              highest = h;
            }
          }
          System.out.println(k.id().toHex() + "  " + (m.isPrivate() ? "private" : "public ") + "  "
              + (highest == null ? "no heads known" : "height " + highest.height() + " head "
                  + highest.hash().toHex().substring(0, 16)
                  + (k.heads().size() > 1 ? " (" + k.heads().size() + " heads)" : ""))
              + "  keys " + (k.keys().isEmpty() ? "none" : String.join(",", k.keys()))
              + (m.description().isEmpty() ? "" : "  " + quoted(m.description())));
        }
        System.out.println(known.size() + " capsule(s) in " + state.root() + "; heads as last verified (capsule info"
            + " ID asks the host)");
        return 0;
      });
    }
  }

  /** A capsule the state knows, as saved. */
  record Known(Hash id, SignedMetadata metadata, List<String> keys, List<HeadTracker.VouchedHead> heads,
      List<String> hosts) {}

  /** Every capsule with saved metadata in the state, oldest first. */
  static List<Known> known(RenterState state) throws IOException {
    Path dir = state.root().resolve("capsules");
    List<Known> out = new ArrayList<>();
    if (!Files.isDirectory(dir)) {
      return out;
    }
    try (DirectoryStream<Path> entries = Files.newDirectoryStream(dir)) {
      for (Path entry : entries) {
        Hash id;
        try {
          byte[] bytes = HexFormat.of().parseHex(entry.getFileName().toString());
          if (bytes.length != Hash.LENGTH) {
            continue;
          }
          id = Hash.copyOf(bytes);
        } catch (IllegalArgumentException e) {
          continue; // not a capsule's directory
        }
        SignedMetadata metadata = state.metadataOrNull(id);
        if (metadata != null) {
          out.add(new Known(id, metadata, keysHeld(state, id), state.trackedHeads(id), state.hosts(id)));
        }
      }
    }
    out.sort(Comparator.comparingLong((Known k) -> k.metadata().metadata().createdAtMillis())
        .thenComparing(k -> k.id().toHex()));
    return out;
  }

  @Command(name = "info", mixinStandardHelpOptions = true,
      description = "What a capsule is, verified from the host: its metadata (which hashes to the id), limits,"
          + " policy, members and retention as of its heads, fetched now, and its size (the height of the newest"
          + " head); and what this state holds of it.")
  static final class Info implements Callable<Integer> {
    @Spec CommandSpec spec;
    @Mixin RenterArgs args;

    @Parameters(arity = "0..1", paramLabel = "ID", description = "The capsule id (hex); or --capsule ID.")
    @Nullable String idArgument;

    @Option(names = "--capsule", paramLabel = "ID", description = "The capsule id (hex).")
    @Nullable String capsule;

    @Override
    public Integer call() {
      if ((idArgument == null) == (capsule == null)) {
        throw Args.usage(spec, "name the capsule once: capsule info ID, or --capsule ID");
      }
      Hash id = Args.hash(spec, "--capsule", idArgument != null ? idArgument : capsule);
      return CapsuleCommand.guarded(() -> info(id));
    }

    private int info(Hash id) throws IOException, RenterException {
      RenterState state = args.state();
      try (HostClient client = args.connect(id)) {
        CapsuleCommand.View view = CapsuleCommand.View.open(state, client, id);
        CapsuleMembers members = view.refreshMembers();
        SignedMetadata signed = view.metadata();
        Metadata m = signed.metadata();
        List<Record> heads = view.heads();
        long height = 0;
        for (Record head : heads) {
          height = Math.max(height, head.header().height());
        }
        ProgramResult result = view.lastHeadsResult();
        List<String> keys = keysHeld(state, id);
        List<String> hosts = state.hosts(id);
        Map<PublicKey, Integer> holders = members != null ? members.members() : m.writers();
        if (args.json) {
          List<Object> memberList = new ArrayList<>();
          holders.forEach((key, bits) -> {
            Op grant = members == null ? null : members.grantOrNull(key);
            memberList.add(new Json().put("key", key.toHex()).put("bits", MemberCommand.names(bits))
                .put("creator", key.equals(m.creator()))
                .put("grantedBy", grant == null ? null : grant.hash().toHex()));
          });
          List<Object> headList = new ArrayList<>();
          for (Record head : heads) {
            RecordHeader h = head.header();
            headList.add(new Json().put("hash", h.hash().toHex()).put("height", h.height())
                .put("subRecords", h.subRecordCount()).put("writer", h.writer().toHex())
                .put("timestampMillis", h.timestampMillis()));
          }
          System.out.println(new Json().put("capsule", id.toHex()).put("version", m.version())
              .put("private", m.isPrivate()).put("description", m.description()).put("creator", m.creator().toHex())
              .put("createdAtMillis", m.createdAtMillis()).put("policy", m.signingPolicy().name())
              .put("maxSubRecords", m.maxSubRecords()).put("maxSubRecordBytes", m.maxSubRecordBytes())
              .put(members != null ? "members" : "writers", memberList)
              .put("retention", members == null ? null : DroppedSubRecord.describe(members.retention()))
              .put("heads", headList).put("height", height).put("forked", heads.size() > 1)
              .put("keys", keys).put("hosts", hosts).put("cost", result == null ? null : RenterArgs.cost(result)));
          return 0;
        }
        System.out.println("capsule     " + id.toHex() + " (" + (m.isPrivate() ? "private" : "public")
            + ", format version " + m.version() + ")");
        System.out.println("description " + quoted(m.description()));
        System.out.println("creator     " + m.creator().toHex() + ", created " + Instant.ofEpochMilli(m.createdAtMillis()));
        System.out.println("limits      at most " + m.maxSubRecords() + " sub-records of at most " + m.maxSubRecordBytes()
            + " bytes per record" + (m.isPrivate() ? " (stored: each sub-record holds 16 bytes of tag)" : ""));
        System.out.println("policy      " + m.signingPolicy().name()
            + (m.signingPolicy().name().equals("EVERY_RECORD") ? ": every record is signed"
                : ": the last record of each append is signed"));
        holders.forEach((key, bits) -> {
          Op grant = members == null ? null : members.grantOrNull(key);
          String source = key.equals(m.creator()) ? "the creator" : grant == null ? "from the metadata"
              : "granted by record " + grant.hash().toHex() + " (height " + grant.height() + ")";
          System.out.println((members != null ? "member      " : "writer      ") + key.toHex() + " "
              + String.join(",", MemberCommand.names(bits)) + "  " + source);
        });
        if (members != null) {
          System.out.println("retention   " + DroppedSubRecord.describe(members.retention()));
        }
        for (Record head : heads) {
          RecordHeader h = head.header();
          System.out.println("head        " + h.hash().toHex() + " height " + h.height() + ", " + h.subRecordCount()
              + " sub-record(s), signed by " + h.writer().toHex() + " at " + Instant.ofEpochMilli(h.timestampMillis()));
        }
        System.out.println("size        " + (heads.isEmpty() ? "no records yet"
            : "height " + height + ": " + height + " record(s) along the longest chain"
                + (heads.size() > 1 ? "; forked into " + heads.size() + " heads (capsule merge joins them)" : "")));
        System.out.println("this state  keys " + describeKeys(keys) + "; hosts "
            + (hosts.isEmpty() ? "none saved" : String.join(", ", hosts)));
        System.out.println("verified: the metadata hashes to the id; the heads are signed by members with the right"
            + (members != null ? ", the membership records below them resolved" : ""));
        if (result != null) {
          System.out.println(RenterArgs.costLine(result));
        }
        return 0;
      }
    }
  }

  static String quoted(String text) {
    return "\"" + text.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n") + "\"";
  }
}
