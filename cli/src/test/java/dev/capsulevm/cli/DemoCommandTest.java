package dev.capsulevm.cli;

import static dev.capsulevm.cli.CliTestSupport.run;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.capsulevm.cli.CliTestSupport.Result;
import org.junit.jupiter.api.Test;

class DemoCommandTest {
  @Test
  void demoRunsAHostVerifiesEverythingCatchesTamperingAndExitsZero() {
    Result r = run("demo", "--sub-records", "200");
    assertEquals(0, r.exitCode(), r.out() + r.err());
    assertTrue(r.out().contains("Merkle root over 200 sub-records"), r.out());
    assertTrue(r.out().contains("100 verified sub-records"), r.out());
    assertTrue(r.out().contains("caught: host misbehaviour in output 0"), r.out());
    assertTrue(r.out().contains("heads on the host are unchanged: true"), r.out());
    // What a program cost of its budget, and the one digit the tampered heads differ in, marked.
    assertTrue(r.out().matches("(?s).*\n   cost \\d+\\.\\d{6} CAP of a \\d+\\.\\d{6} CAP budget \\(its estimate\\),"
        + " \\d+\\.\\d{6} CAP refunded; receipt verified\n.*"), r.out());
    assertTrue(!r.out().contains("(estimate "), r.out());
    assertTrue(r.out().matches("(?s).*\n     leaves  [0-9a-f.]{16,}\n     stated  [0-9a-f.]{16,}\n"
        + " +\\^ hex digit \\d+ of 64 differs\n.*"), r.out());
    assertTrue(r.out().contains("CONVERGED: 5 records verified and stored"), r.out());
    assertTrue(r.out().contains("\"key-123=value-123\" read from the replica, verified"), r.out());
    assertTrue(r.out().contains("the member appended record"), r.out());
    assertTrue(r.out().contains("refused: key ") && r.out().contains("took its bits away"), r.out());
    assertTrue(!r.out().contains("NOT DETECTED") && !r.out().contains("NOT REFUSED"), r.out());
  }

  @Test
  void badSubRecordCountIsAUsageError() {
    assertEquals(2, run("demo", "--sub-records", "0").exitCode());
  }
}
