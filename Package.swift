// swift-tools-version:6.1
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("MemberImportVisibility"),
]

let package = Package(
    name: "smarketing",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "smarketing", targets: ["smarketing"]),
        .library(name: "SmarketingCore", targets: ["SmarketingCore"]),
        .library(name: "SmarketingStore", targets: ["SmarketingStore"]),
        .library(name: "SmarketingConnectors", targets: ["SmarketingConnectors"]),
        .library(name: "SmarketingServer", targets: ["SmarketingServer"]),
    ],
    dependencies: [
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth.git", from: "2.5.0"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.2"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/hummingbird-project/swift-mustache.git", from: "2.1.1"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
    ],
    targets: [
        // The domain: Foundation only, no I/O, deterministic.
        .target(name: "SmarketingCore", swiftSettings: swiftSettings),
        // One SQLite setting Swift cannot reach (a variadic C function).
        .target(name: "CSQLiteTuning", linkerSettings: [.linkedLibrary("sqlite3")]),
        // One allocator setting Swift cannot reach (mallopt is in <malloc.h>, outside the Glibc module).
        .target(name: "CAllocatorTuning"),
        // The store's role protocols and its two backends: SQLite (GRDB) and PostgreSQL (PostgresNIO).
        .target(
            name: "SmarketingStore",
            dependencies: [
                "SmarketingCore", "CSQLiteTuning",
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "GRDBSQLite", package: "GRDB.swift"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                // SHA-256 of erased addresses (the tombstones).
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        // Bundle CSV, the demo workspace generator, the vendor connectors and their sync engine.
        .target(
            name: "SmarketingConnectors",
            dependencies: [
                "SmarketingCore", "SmarketingStore", .product(name: "Yams", package: "Yams"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // buildApplication: the JSON API, OpenAPI, auth, group-committed ingest.
        .target(
            name: "SmarketingServer",
            dependencies: [
                "SmarketingCore", "SmarketingStore", "SmarketingConnectors", "CAllocatorTuning",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Mustache", package: "swift-mustache"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: swiftSettings
        ),
        .executableTarget(
            name: "smarketing",
            dependencies: [
                "SmarketingCore", "SmarketingStore", "SmarketingConnectors", "SmarketingServer",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),
        // Fake vendor servers that follow the vendors' published contracts (test fixtures of the
        // vendor side, used by the tests and by `scripts/bench-sync`; not part of the product).
        .target(
            name: "VendorFakes",
            dependencies: [
                "SmarketingCore",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            path: "Tests/VendorFakes",
            swiftSettings: swiftSettings
        ),
        // A throwaway PostgreSQL cluster for the tests (initdb/pg_ctl on a free loopback port).
        .target(name: "ThrowawayPostgres", path: "Tests/ThrowawayPostgres", swiftSettings: swiftSettings),
        .executableTarget(name: "fake-vendors", dependencies: ["VendorFakes"], path: "Tests/FakeVendorsMain", swiftSettings: swiftSettings),
        .testTarget(name: "SmarketingCoreTests", dependencies: ["SmarketingCore"], swiftSettings: swiftSettings),
        .testTarget(
            name: "SmarketingStoreTests",
            dependencies: [
                "SmarketingCore", "SmarketingStore", "SmarketingConnectors", "ThrowawayPostgres",
                .product(name: "GRDB", package: "GRDB.swift"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SmarketingConnectorsTests",
            dependencies: [
                "SmarketingCore", "SmarketingStore", "SmarketingConnectors", "VendorFakes", "ThrowawayPostgres",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SmarketingServerTests",
            dependencies: [
                "SmarketingCore", "SmarketingStore", "SmarketingConnectors", "SmarketingServer", "smarketing", "VendorFakes", "ThrowawayPostgres",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
