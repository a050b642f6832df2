package dev.capsulevm.renter;

import dev.capsulevm.program.Output;
import dev.capsulevm.proofs.Hash;
import dev.capsulevm.proofs.VerificationException;
import dev.capsulevm.proofs.capsule.Membership;
import dev.capsulevm.proofs.capsule.Record;
import dev.capsulevm.proofs.capsule.RecordHeader;
import dev.capsulevm.proofs.capsule.RecordKind;
import dev.capsulevm.proofs.capsule.RecordSource;
import dev.capsulevm.proofs.capsule.RecordWithBody;
import dev.capsulevm.proofs.capsule.SignedMetadata;
import dev.capsulevm.proofs.integrity.MemberStates;
import dev.capsulevm.proofs.members.Changelog;
import dev.capsulevm.proofs.members.Keystore;
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
 * The membership records of one version-2 or version-3 (private) capsule that this renter verified
 * (docs/FORMAT.md, "Members"), with the capsule's {@link Membership} (whose resolutions and epochs it
 * caches by frontier). Records are immutable, so what is held is never fetched again. In a private capsule
 * a membership record may carry a keystore block as its sub-record 1: it is fetched and held too, since
 * epochs, wraps and previous links live there.
 *
 * <p>Trust: the state before a record is computed from genesis (the metadata, which hashes to the capsule
 * id) over membership records each fetched with {@code ReadByHash} (header and its writer's signature,
 * which a membership record always carries) and {@code ReadSubRecord} of its change body and keystore
 * block (proven from a record above it, the inclusion checked against the header's sub-record root). The resolver gives a
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

  /** The log of a capsule with members (version 2 or 3); null for version 1, whose writers are fixed. */
  static @Nullable MemberLog forCapsule(SignedMetadata metadata) {
    return metadata.metadata().hasMembers() ? new MemberLog(metadata) : null;
  }

  /** Whether the capsule is private: its membership records may carry keystore blocks. */
  boolean isPrivate() {
    return membership.isPrivate();
  }

  SignedMetadata metadata() {
    return metadata;
  }

  Membership membership() {
    return membership;
  }

  @Override
  public @Nullable Op opOrNull(Hash recordHash) {
    return ops.get(recordHash);
  }

  /**
   * Every keystore block this renter holds for a private capsule: the metadata's genesis block first, then
   * those of the membership records held, in resolution order (height, then hash). Empty when the capsule
   * is not private.
   */
  List<Keystore> keystores() {
    Keystore genesis = metadata.metadata().genesisKeystoreOrNull();
    if (genesis == null) {
      return List.of();
    }
    List<Op> sorted = new ArrayList<>(ops.values());
    sorted.sort(Op.ORDER);
    List<Keystore> out = new ArrayList<>();
    out.add(genesis);
    for (Op op : sorted) {
      Keystore block = op.keystoreOrNull();
      if (block != null) {
        out.add(block);
      }
    }
    return out;
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
   * checked as a fetched one is: of this capsule, a membership record, signed by its writer, its sub-records
   * (a change body, and in a private capsule optionally a keystore block) under the header's root.
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
      op = opOf(item.record(), item.isDropped() ? List.of() : item.payloads());
    } catch (VerificationException e) {
      throw new IllegalArgumentException(e.getMessage(), e);
    }
    records.put(item.hash(), new RecordWithBody(item.record(), item.payloads()));
    ops.put(op.hash(), op);
    return op;
  }

  /**
   * The op of {@code record} whose sub-records are {@code payloads}, after checking it is a signed
   * membership record of this capsule holding exactly them: the change body, and in a private capsule
   * optionally a keystore block (whose card signatures are checked too).
   */
  private Op opOf(Record record, List<byte[]> payloads) throws VerificationException {
    RecordHeader header = record.header();
    int most = isPrivate() ? 2 : 1;
    String problem = null;
    if (!header.capsuleId().equals(metadata.capsuleId())) {
      problem = "belongs to capsule " + header.capsuleId();
    } else if (header.kind() != RecordKind.MEMBERSHIP) {
      problem = "is not a membership record";
    } else if (!record.hasValidSignature()) {
      problem = "does not carry its writer's valid signature (a membership record is always signed)";
    } else if (header.subRecordCount() < 1 || header.subRecordCount() > most
        || header.subRecordCount() != payloads.size()) {
      problem = "holds " + header.subRecordCount() + " sub-records (" + payloads.size() + " given), a membership"
          + " record holds " + (most == 1 ? "1" : "1 or 2");
    } else if (!Merkle.root(payloads).equals(header.subRecordRoot())) {
      problem = "has a sub-record root its change body" + (payloads.size() == 2 ? " and keystore block do" : " does")
          + " not hash to";
    }
    if (problem != null) {
      throw new VerificationException(
          VerificationException.Failure.MALFORMED_ENCODING, "membership record " + record.hash() + " " + problem);
    }
    Op op = Membership.opOf(new RecordWithBody(record, payloads));
    Keystore keystore = op.keystoreOrNull();
    if (keystore != null) {
      keystore.verifyCards();
    }
    return op;
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

  /**
   * One program: per wanted record, {@code ReadByHash} and {@code ReadSubRecord} of sub-record 0; in a
   * private capsule, a second program reads sub-record 1 (the keystore block) of those that hold two.
   */
  private List<RecordHeader> fetch(HostClient client, Map<Hash, RecordHeader> wanted) throws RenterException {
    ProgramBuilder builder =
        new ProgramBuilder(metadata.capsuleId(), metadata, null, h -> client.proofCache().getIfPresent(h));
    Map<Hash, int[]> steps = new LinkedHashMap<>();
    wanted.forEach((hash, anchor) -> steps.put(hash, new int[] {
        builder.readByHash(hash), builder.readSubRecord(hash, 0, anchor)}));
    ProgramResult result = client.run(builder.build());
    Map<Hash, Record> fetched = new LinkedHashMap<>();
    Map<Hash, byte[]> bodies = new HashMap<>();
    Map<Hash, Integer> byHashSteps = new HashMap<>();
    for (Map.Entry<Hash, int[]> step : steps.entrySet()) {
      int byHash = step.getValue()[0];
      Record record = ((Output.ByHash) result.output(byHash).output()).recordOrNull();
      if (record == null) {
        throw new HostMisbehaviourException(Part.OUTPUT, byHash, "the host says it does not hold membership record "
            + step.getKey() + ", below a record it holds");
      }
      fetched.put(step.getKey(), record);
      bodies.put(step.getKey(), result.output(step.getValue()[1]).payload());
      byHashSteps.put(step.getKey(), byHash);
    }
    Map<Hash, byte[]> keystores = fetchKeystores(client, fetched, wanted);
    List<RecordHeader> out = new ArrayList<>();
    for (Map.Entry<Hash, Record> item : fetched.entrySet()) {
      Record record = item.getValue();
      List<byte[]> payloads = new ArrayList<>();
      payloads.add(Objects.requireNonNull(bodies.get(item.getKey())));
      byte[] keystore = keystores.get(item.getKey());
      if (keystore != null) {
        payloads.add(keystore);
      }
      try {
        Op op = opOf(record, payloads);
        records.put(op.hash(), new RecordWithBody(record, payloads));
        ops.put(op.hash(), op);
      } catch (VerificationException e) {
        throw new HostMisbehaviourException(Part.OUTPUT, Objects.requireNonNull(byHashSteps.get(item.getKey())),
            e.getMessage(), e);
      }
      out.add(record.header());
    }
    return out;
  }

  /**
   * The keystore blocks (sub-record 1) of the fetched membership records that hold two sub-records, read
   * with proofs from the same anchors in one program; none is run when no record holds one.
   */
  private Map<Hash, byte[]> fetchKeystores(HostClient client, Map<Hash, Record> fetched,
      Map<Hash, RecordHeader> anchors) throws RenterException {
    Map<Hash, Integer> steps = new LinkedHashMap<>();
    ProgramBuilder builder =
        new ProgramBuilder(metadata.capsuleId(), metadata, null, h -> client.proofCache().getIfPresent(h));
    fetched.forEach((hash, record) -> {
      if (record.header().subRecordCount() == 2) {
        steps.put(hash, builder.readSubRecord(hash, 1, Objects.requireNonNull(anchors.get(hash))));
      }
    });
    if (steps.isEmpty()) {
      return Map.of();
    }
    ProgramResult result = client.run(builder.build());
    Map<Hash, byte[]> out = new HashMap<>();
    steps.forEach((hash, step) -> out.put(hash, result.output(step).payload()));
    return out;
  }

  /**
   * Checks the heads of a capsule with members against the changelog (held: {@link #fetchBelow} them first): each head's member
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
    if (head.version() != metadata.metadata().version()) {
      return "is a version-" + head.version() + " record of a version-" + metadata.metadata().version() + " capsule";
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
