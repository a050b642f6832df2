package dev.capsulevm.host.sync;

import dev.capsulevm.proofs.Hash;
import java.util.List;
import java.util.Objects;

/**
 * What reconciliation needs of a record: its hash and its parents (in header order). The Sync service
 * carries the record's canonical bytes beside it and verifies them before the store sees anything; the
 * core only needs the DAG edges for the walk.
 */
public record SyncRecord(Hash id, List<Hash> parents) {
  public SyncRecord {
    Objects.requireNonNull(id, "id");
    parents = List.copyOf(parents);
    if (parents.isEmpty() || parents.size() > 255) {
      throw new IllegalArgumentException("a record has 1 to 255 parents, got " + parents.size());
    }
  }
}
