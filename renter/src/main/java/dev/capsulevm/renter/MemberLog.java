package dev.capsulevm.renter;

import dev.capsulevm.program.Output;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.capsule.Membership;
import dev.capsulevm.proofs.capsule.Metadata;
import dev.capsulevm.proofs.capsule.Record;
import dev.capsulevm.proofs.capsule.RecordHeader;
import dev.capsulevm.proofs.capsule.RecordKind;
import dev.capsulevm.proofs.capsule.RecordSource;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.proofs.capsule.SignedMetadata;
import dev.capsulevm.proofs.integrity.MemberStates;
import dev.capsulevm.proofs.members.Changelog;
import dev.capsulevm.proofs.members.MemberChange;
import dev.capsulevm.proofs.members.Op;
import dev.capsulevm.proofs.members.Resolution;
import dev.capsulevm.proofs.merkle.Merkle;
import dev.capsulevm.renter.HostMisbehaviourException.Part;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;
import org.jspecify.annotations.Nullable;

/**
 * The membership records of one version-2 capsule that this renter verified (docs/FORMAT.md, "Members"),
 * with the capsule's {@link Membership} (whose resolutions it caches by frontier). Records are immutable,
 * so what is held is never fetched again.
 *
 * <p>Trust: the state before a record is computed from genesis (the metadata, which hashes to the capsule
 * id) over membership records each fetched with {@code ReadByHash} (header and its writer's signature,
 * which a membership record always carries) and {@code ReadSubRecord} of its change body (proven from a
 * record above it, the inclusion checked against the header's sub-record root). The resolver gives a
 * change by a key without the right no effect, so a host can neither invent changes (it cannot sign for
 * a member) nor make a head's writer a member that the signed changes did not make one. A head is then
 * accepted when its member root is the state its auth parents resolve to and its writer held the right
 * there ({@link #checkHeads}).
 */
final class MemberLog implements Changelog {
  /** Membership records fetched per program (two instructions each). */
  static final int RECORDS_PER_PROGRAM = 64;

  private final SignedMetadata metadata;
  private final Membership membership;
  private final Map<Hash, RecordWithBody> records = new ConcurrentHashMap<>();
  private final Map<Hash, Op> ops = new ConcurrentHashMap<>();

  private MemberLog(SignedMetadata metadata) {
    this.metadata = metadata;
    this.membership = new Membership(metadata);
  }

  /** The log of a version-2 capsule; null for version 1, whose writers are fixed in its metadata. */
  static @Nullable MemberLog forCapsule(SignedMetadata metadata) {
    return metadata.metadata().version() == Metadata.VERSION_2 ? new MemberLog(metadata) : null;
  }

  Membership membership() {
    return membership;
  }

  @Override
  public @Nullable Op opOrNull(Hash recordHash) {
    return ops.get(recordHash);
  }

  /** The membership records held, ascending by height then hash (what a renter saves). */
  List<RecordWithBody> records() {
    List<Op> sorted = new ArrayList<>(ops.values());
    sorted.sort(Op.ORDER);
    List<RecordWithBody> out = new ArrayList<>(sorted.size());
    sorted.forEach(op -> out.add(Objects.requireNonNull(records.get(op.hash()))));
    return out;
  }

  /**
   * Adds a membership record this renter holds whole: built and committed itself, or saved earlier. It is
   * checked as a fetched one is: of this capsule, a membership record, signed by its writer, one sub-record
   * whose bytes are a change body under the header's root.
   *
   * @throws IllegalArgumentException naming what is wrong
   */
  Op add(RecordWithBody item) {
    Op held = ops.get(item.hash());
    if (held != null) {
      return held;
    }
    Op op;
    try {
      op = opOf(item.record(), item.payloads().size() == 1 ? item.payloads().get(0) : null);
    } catch (VerificationException e) {
      throw new IllegalArgumentException(e.getMessage(), e);
    }
    records.put(item.hash(), new RecordWithBody(item.record(), item.payloads()));
    ops.put(op.hash(), op);
    return op;
  }

  /**
   * The op of {@code record} whose sub-record 0 is {@code bodyOrNull}, after checking it is a signed
   * membership record of this capsule with exactly that one sub-record.
   */
  private Op opOf(Record record, byte @Nullable [] bodyOrNull) throws VerificationException {
    RecordHeader header = record.header();
    String problem = null;
    if (!header.capsuleId().equals(metadata.capsuleId())) {
      problem = "belongs to capsule " + header.capsuleId();
    } else if (header.kind() != RecordKind.MEMBERSHIP) {
      problem = "is not a membership record";
    } else if (!record.hasValidSignature()) {
      problem = "does not carry its writer's valid signature (a membership record is always signed)";
    } else if (header.subRecordCount() != 1 || bodyOrNull == null) {
      problem = "holds " + header.subRecordCount() + " sub-records, a membership record holds 1";
    } else if (!Merkle.root(List.of(bodyOrNull)).equals(header.subRecordRoot())) {
      problem = "has a sub-record root its change body does not hash to";
    }
    if (problem != null) {
      throw new VerificationException(
          VerificationException.Failure.MALFORMED_ENCODING, "membership record " + record.hash() + " " + problem);
    }
    return Membership.opOf(header, MemberChange.parse(Objects.requireNonNull(bodyOrNull)));
  }

  /**
   * Fetches every membership record at or below {@code tops} that is not held: the tops themselves when
   * they are membership records, and the auth parents of everything, level by level, {@value
   * #RECORDS_PER_PROGRAM} records per program. Holding them all already costs no program.
   *
   * @param tops verified headers of this capsule (heads, or records an append follows); each anchors
   *     the proofs of the membership records below it
   */
  void fetchBelow(HostClient client, Collection<RecordHeader> tops) throws RenterException {
    Map<Hash, RecordHeader> wanted = new LinkedHashMap<>();
    for (RecordHeader top : tops) {
      if (top.version() == RecordHeader.VERSION) {
        continue;
      }
      if (top.kind() == RecordKind.MEMBERSHIP && !ops.containsKey(top.hash())) {
        wanted.putIfAbsent(top.hash(), top);
      }
      for (Hash parent : top.authParents()) {
        if (!ops.containsKey(parent)) {
          wanted.putIfAbsent(parent, top);
        }
      }
    }
    while (!wanted.isEmpty()) {
      Map<Hash, RecordHeader> batch = new LinkedHashMap<>();
      Iterator<Map.Entry<Hash, RecordHeader>> it = wanted.entrySet().iterator();
      while (it.hasNext() && batch.size() < RECORDS_PER_PROGRAM) {
        Map.Entry<Hash, RecordHeader> next = it.next();
        batch.put(next.getKey(), next.getValue());
        it.remove();
      }
      for (RecordHeader fetched : fetch(client, batch)) {
        for (Hash parent : fetched.authParents()) {
          if (!ops.containsKey(parent)) {
            wanted.putIfAbsent(parent, fetched);
          }
        }
      }
    }
  }

  /** One program: per wanted record, {@code ReadByHash} and {@code ReadSubRecord} of sub-record 0. */
  private List<RecordHeader> fetch(HostClient client, Map<Hash, RecordHeader> wanted) throws RenterException {
    ProgramBuilder builder =
        new ProgramBuilder(metadata.capsuleId(), metadata, null, h -> client.proofCache().getIfPresent(h));
    Map<Hash, int[]> steps = new HashMap<>();
    wanted.forEach((hash, anchor) -> steps.put(hash, new int[] {
        builder.readByHash(hash), builder.readSubRecord(hash, 0, anchor)}));
    ProgramResult result = client.run(builder.build());
    List<RecordHeader> out = new ArrayList<>();
    for (Map.Entry<Hash, int[]> step : steps.entrySet()) {
      int byHash = step.getValue()[0];
      int read = step.getValue()[1];
      Record record = ((Output.ByHash) result.output(byHash).output()).recordOrNull();
      if (record == null) {
        throw new HostMisbehaviourException(Part.OUTPUT, byHash, "the host says it does not hold membership record "
            + step.getKey() + ", below a record it holds");
      }
      try {
        Op op = opOf(record, result.output(read).payload());
        records.put(op.hash(), new RecordWithBody(record, List.of(result.output(read).payload())));
        ops.put(op.hash(), op);
      } catch (VerificationException e) {
        throw new HostMisbehaviourException(Part.OUTPUT, byHash, e.getMessage(), e);
      }
      out.add(record.header());
    }
    return out;
  }

  /**
   * Checks version-2 heads against the changelog (held: {@link #fetchBelow} them first): each head's member
   * root must be the state its auth parents resolve to, and its writer must have held the right for it
   * there. A head that passes becomes a trusted anchor in the client's proof cache.
   *
   * @throws HostMisbehaviourException for a head an honest host never holds (index: output 0 of the
   *     {@code Heads} program that returned it)
   */
  void checkHeads(HostClient client, Collection<RecordHeader> heads) throws HostMisbehaviourException {
    for (RecordHeader head : heads) {
      String problem = headProblemOrNull(head);
      if (problem != null) {
        throw new HostMisbehaviourException(Part.OUTPUT, 0, "head " + head.hash() + " " + problem);
      }
      client.verifier().trust(head);
    }
  }

  private @Nullable String headProblemOrNull(RecordHeader head) {
    if (!head.capsuleId().equals(metadata.capsuleId())) {
      return "belongs to capsule " + head.capsuleId();
    }
    if (head.version() != Metadata.VERSION_2) {
      return "is a version-" + head.version() + " record of a version-2 capsule";
    }
    Resolution before = membership.resolutionBefore(head.authParents(), this);
    if (!before.state().root().equals(head.memberRootOrNull())) {
      return "has member root " + head.memberRootOrNull() + ", but its auth parents resolve to "
          + before.state().root();
    }
    Op own = head.kind() == RecordKind.MEMBERSHIP ? ops.get(head.hash()) : null;
    if (head.kind() == RecordKind.MEMBERSHIP && own == null) {
      throw new IllegalStateException("membership head " + head.hash() + " was not fetched");
    }
    try {
      membership.check(head, own == null ? null : own.change(), this);
    } catch (VerificationException e) {
      return "is by a writer without the right: " + e.getMessage();
    }
    return null;
  }

  /**
   * The member state before each version-2 record whose header {@code headers} gives and whose membership
   * records this log holds (null otherwise): what a {@link ProgramBuilder} sizes a proof's writer entry by.
   */
  MemberStates memberStates(Function<Hash, @Nullable RecordHeader> headers) {
    return hash -> {
      RecordHeader header = headers.apply(hash);
      if (header == null || header.version() == RecordHeader.VERSION) {
        return null;
      }
      try {
        return membership.stateBefore(header.authParents(), this);
      } catch (IllegalStateException e) {
        return null; // a membership record below it is not held
      }
    };
  }

  /**
   * The resolution of every membership record at or below {@code heads}: the member state a record
   * following all of them would be written in ("the members now", as of these heads).
   */
  Resolution resolutionAfter(Collection<RecordHeader> heads) {
    Map<Hash, RecordHeader> byHash = new HashMap<>();
    heads.forEach(h -> byHash.put(h.hash(), h));
    RecordSource source = byHash::get;
    List<Hash> frontier = heads.isEmpty() ? List.of()
        : membership.authParentsFor(List.copyOf(byHash.keySet()), source, this);
    return membership.resolutionBefore(frontier, this);
  }
}
