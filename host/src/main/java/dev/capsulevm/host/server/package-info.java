/**
 * The daemon's services: {@link dev.capsulevm.host.server.HostServer} starts the Host (renter-facing:
 * price table, balances, programs) and Admin gRPC services over one store, with their rate limits,
 * price tables, metrics and the Execute call's parts (admission, upload, the program's driver, responses),
 * and program streams, which run many such calls on one stream.
 */
@NullMarked
package dev.capsulevm.host.server;

import org.jspecify.annotations.NullMarked;
