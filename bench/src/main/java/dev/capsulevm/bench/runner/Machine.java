package dev.capsulevm.bench.runner;

import java.time.LocalDate;
import java.time.ZoneOffset;

/** The machine a run measured: cores, JVM, operating system and date, stated in every result. */
record Machine(int cores, String jvm, String os, LocalDate date) {
  static Machine current() {
    return new Machine(Runtime.getRuntime().availableProcessors(),
        System.getProperty("java.vm.name") + " " + System.getProperty("java.runtime.version"),
        System.getProperty("os.name") + " " + System.getProperty("os.arch"),
        LocalDate.now(ZoneOffset.UTC));
  }

  String describe() {
    return cores + " cores, " + jvm + ", " + os + ", " + date;
  }
}
