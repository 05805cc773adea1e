import Foundation
import Testing

/// The short, seeded form of `scripts/fuzz-api`: schemathesis over the whole `/openapi.json` of
/// a real server on loopback, with a token of every role. `.ci/run` installs schemathesis;
/// elsewhere, without it, the test says so and skips.
@Suite("API fuzzing (schemathesis)")
struct FuzzAPITests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// `st` on the PATH, or in the virtual environment `.ci/run` makes (`.build-venv`).
    static var schemathesis: String? {
        let path = (ProcessInfo.processInfo.environment["PATH"] ?? "") + ":" + root.appendingPathComponent(".build-venv/bin").path
        for dir in path.split(separator: ":") {
            let candidate = "\(dir)/st"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }

    @Test(
        "a seeded schemathesis run over every operation and role: no 5xx, no crash, every answer as documented",
        .enabled(if: schemathesis != nil, "schemathesis is not installed (python3 -m pip install schemathesis); .ci/run installs it")
    )
    func quickFuzz() async throws {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("fuzz-api-\(UUID()).log").path
        defer { try? FileManager.default.removeItem(atPath: log) }
        // The script's progress and reports go to a file: a pipe could fill and stall it.
        let script = Self.root.appendingPathComponent("scripts/fuzz-api").path
        let run = try await CLIRun.runProgram("/bin/bash", ["-c", "\"$0\" --quick --bin \"$1\" 2>\"$2\"", script, try smarketingBinary(), log])
        let report = (try? String(contentsOfFile: log, encoding: .utf8)) ?? ""
        let summary = run.stdout.split(separator: "\n").last { $0.hasPrefix("{\"suite\":\"fuzz-api\"") }.map(String.init) ?? ""
        #expect(run.status == 0, "fuzz-api failed: \(run.stdout)\n\(report.suffix(8_000))")
        let json = (try? JSONSerialization.jsonObject(with: Data(summary.utf8))) as? [String: Any] ?? [:]
        #expect((json["requests"] as? Int ?? 0) > 500, "too few requests: \(summary)")
        #expect(json["server_alive"] as? Bool == true && json["crashes"] as? Int == 0 && json["logged_5xx"] as? Int == 0, "\(summary)")
        #expect((json["roles"] as? [String: Any])?.count == 4, "\(summary)")
    }
}
