import Foundation
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Headless Chromium driven over the DevTools protocol through a pipe
/// (`--remote-debugging-pipe`: commands in on fd 3, replies and events out on fd 4, each a JSON
/// text ended by NUL). Written here because no Swift DevTools client is among the packages this
/// project may use, and the protocol needs only a few commands.
final class Browser: @unchecked Sendable {
    /// Where Chromium is; nil when it is not installed (`.ci/run` installs it).
    static var executable: String? {
        for path in ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"] where FileManager.default.isExecutableFile(atPath: path) {
            return path
        }
        return nil
    }

    private let pid: pid_t
    private let commands: Int32
    private let replies: Int32
    private let profile: String
    private let lock = NSLock()
    private var nextID = 0
    private var waiting: [Int: CheckedContinuation<Reply, any Error>] = [:]
    /// Problems a page reported: console errors, uncaught exceptions, failed requests, by session.
    private var problems: [String: [String]] = [:]
    private var closed = false

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    init() throws {
        guard let exe = Self.executable else { throw Failure(description: "Chromium is not installed (apt-get install -y chromium)") }
        profile = FileManager.default.temporaryDirectory.appendingPathComponent("smk-chromium-\(UUID())").path
        var toChrome: [Int32] = [0, 0]
        var fromChrome: [Int32] = [0, 0]
        guard pipe(&toChrome) == 0, pipe(&fromChrome) == 0 else { throw Failure(description: "pipe() failed") }
        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_adddup2(&actions, toChrome[0], 3)
        posix_spawn_file_actions_adddup2(&actions, fromChrome[1], 4)
        let devnull = open("/dev/null", O_WRONLY)
        posix_spawn_file_actions_adddup2(&actions, devnull, 1)
        posix_spawn_file_actions_adddup2(&actions, devnull, 2)
        let args = [
            exe, "--headless=new", "--remote-debugging-pipe", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
            "--no-default-browser-check", "--disable-extensions", "--disable-background-networking", "--disable-sync", "--mute-audio",
            "--user-data-dir=" + profile, "about:blank",
        ]
        var cargs = args.map { strdup($0) } + [nil]
        defer { for a in cargs { free(a) } }
        var child: pid_t = 0
        let rc = posix_spawn(&child, exe, &actions, nil, &cargs, environ)
        close(devnull)
        close(toChrome[0])
        close(fromChrome[1])
        guard rc == 0 else { throw Failure(description: "could not start \(exe): \(rc)") }
        pid = child
        commands = toChrome[1]
        replies = fromChrome[0]
        let thread = Thread { [self] in readLoop() }
        thread.start()
    }

    deinit { quit() }

    func quit() {
        lock.lock()
        let wasClosed = closed
        closed = true
        lock.unlock()
        guard !wasClosed else { return }
        kill(pid, SIGKILL)
        var status: Int32 = 0
        waitpid(pid, &status, 0)
        close(commands)
        try? FileManager.default.removeItem(atPath: profile)
    }

    private func readLoop() {
        var buffer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = read(replies, &chunk, chunk.count)
            if n <= 0 { break }
            buffer.append(contentsOf: chunk[0..<n])
            while let end = buffer.firstIndex(of: 0) {
                let message = Data(buffer[0..<end])
                buffer.removeSubrange(0...end)
                if let object = (try? JSONSerialization.jsonObject(with: message)) as? [String: Any] { handle(object) }
            }
        }
        lock.lock()
        let pending = waiting
        waiting = [:]
        lock.unlock()
        for (_, c) in pending { c.resume(throwing: Failure(description: "Chromium closed the pipe")) }
    }

    private func handle(_ m: [String: Any]) {
        if let id = m["id"] as? Int {
            lock.lock()
            let c = waiting.removeValue(forKey: id)
            lock.unlock()
            if let error = m["error"] as? [String: Any] {
                c?.resume(throwing: Failure(description: "DevTools error: \(error["message"] ?? error)"))
            } else {
                c?.resume(returning: Reply(value: m["result"] as? [String: Any] ?? [:]))
            }
            return
        }
        guard let method = m["method"] as? String, let session = m["sessionId"] as? String, let p = m["params"] as? [String: Any] else { return }
        var problem: String?
        switch method {
        case "Runtime.exceptionThrown":
            let details = p["exceptionDetails"] as? [String: Any]
            problem = "exception: \((details?["exception"] as? [String: Any])?["description"] ?? details?["text"] ?? "?")"
        case "Runtime.consoleAPICalled" where (p["type"] as? String) == "error":
            problem = "console.error: \(((p["args"] as? [[String: Any]])?.first?["value"]) ?? "?")"
        case "Log.entryAdded":
            if let e = p["entry"] as? [String: Any], e["level"] as? String == "error" { problem = "log: \(e["text"] ?? "") \(e["url"] ?? "")" }
        case "Network.loadingFailed":
            // A stream closed on purpose when a page is left is not a failure.
            if p["canceled"] as? Bool != true { problem = "request failed: \(p["errorText"] ?? "")" }
        case "Network.responseReceived":
            if let r = p["response"] as? [String: Any], let status = r["status"] as? Int, status >= 400, let url = r["url"] as? String {
                problem = "HTTP \(status) for \(url)"
            }
        default: break
        }
        if let problem {
            lock.lock()
            problems[session, default: []].append(problem)
            lock.unlock()
        }
    }

    /// Sends one command and waits for its reply.
    @discardableResult
    func send(_ method: String, _ params: [String: Any] = [:], session: String? = nil) async throws -> [String: Any] {
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<Reply, any Error>) in
            lock.lock()
            nextID += 1
            let id = nextID
            waiting[id] = c
            lock.unlock()
            var message: [String: Any] = ["id": id, "method": method, "params": params]
            if let session { message["sessionId"] = session }
            var data = try! JSONSerialization.data(withJSONObject: message)
            data.append(0)
            let ok = data.withUnsafeBytes { raw -> Bool in
                var offset = 0
                while offset < raw.count {
                    let n = write(commands, raw.baseAddress! + offset, raw.count - offset)
                    if n <= 0 { return false }
                    offset += n
                }
                return true
            }
            if !ok {
                lock.lock()
                let c = waiting.removeValue(forKey: id)
                lock.unlock()
                c?.resume(throwing: Failure(description: "could not write to Chromium"))
            }
        }.value
    }

    /// A reply crossing from the reader thread (JSON objects are not Sendable; each is read by one task).
    struct Reply: @unchecked Sendable {
        let value: [String: Any]
    }

    /// A new tab in its own cookie jar (`isolated`) or the default one.
    func tab(width: Int = 1280, height: Int = 900, isolated: Bool = true) async throws -> Tab {
        var params: [String: Any] = ["url": "about:blank"]
        if isolated { params["browserContextId"] = try await send("Target.createBrowserContext")["browserContextId"] as? String ?? "" }
        let target = try await send("Target.createTarget", params)["targetId"] as? String ?? ""
        let session = try await send("Target.attachToTarget", ["targetId": target, "flatten": true])["sessionId"] as? String ?? ""
        for domain in ["Page.enable", "Runtime.enable", "Log.enable", "Network.enable"] { try await send(domain, session: session) }
        try await send(
            "Emulation.setDeviceMetricsOverride",
            ["width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600],
            session: session
        )
        return Tab(browser: self, session: session)
    }

    func problems(of session: String) -> [String] {
        lock.lock()
        defer { lock.unlock() }
        return problems[session] ?? []
    }

    func clearProblems(of session: String) {
        lock.lock()
        problems[session] = []
        lock.unlock()
    }
}

/// One tab.
struct Tab: Sendable {
    let browser: Browser
    let session: String
    /// How long a page may take to load. The whole suite on two cores slows every page: in CI
    /// (2026-12-05) a settings page beside the rest of the suite overran 15 s, so the default is
    /// the 60 s the meeting pages already needed. A page that is merely slow is not a failure of
    /// the web app; a page that never loads still fails.
    var loadTimeout: Double = 60

    /// Evaluates JavaScript and returns its value (awaiting promises).
    @discardableResult
    func eval(_ js: String) async throws -> Any? {
        let r = try await browser.send("Runtime.evaluate", ["expression": js, "returnByValue": true, "awaitPromise": true], session: session)
        if let e = r["exceptionDetails"] as? [String: Any] { throw Browser.Failure(description: "script failed: \(e["text"] ?? "") in \(js)") }
        return (r["result"] as? [String: Any])?["value"]
    }

    /// Opens a URL and waits until the page has loaded.
    func open(_ url: String, timeout: Double? = nil) async throws {
        try await browser.send("Page.navigate", ["url": url], session: session)
        try await waitForLoad(notAt: nil, timeout: timeout ?? loadTimeout)
    }

    /// Waits until the document is complete (and, when given, no longer at `notAt`).
    func waitForLoad(notAt previous: String?, timeout: Double? = nil) async throws {
        let timeout = timeout ?? loadTimeout
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            try await Task.sleep(for: .milliseconds(50))
            let state = try? await eval("location.href + ' ' + document.readyState") as? String
            if let state, state.hasSuffix(" complete") {
                let href = String(state.dropLast(9))
                if previous == nil || href != previous { return }
            }
        }
        throw Browser.Failure(description: "the page did not load within \(timeout) s")
    }

    /// Clicks the element and waits for the navigation it starts.
    func clickAndWait(_ selector: String, timeout: Double? = nil) async throws {
        let before = try await eval("location.href") as? String
        try await eval("document.querySelector(\(quote(selector))).click()")
        try await waitForLoad(notAt: before, timeout: timeout)
    }

    /// Fills form fields by CSS selector.
    func fill(_ values: [String: String]) async throws {
        for (selector, value) in values {
            try await eval("(function(){var e=document.querySelector(\(quote(selector))); e.value=\(quote(value)); return true})()")
        }
    }

    func text(_ selector: String) async throws -> String {
        (try await eval("(function(){var e=document.querySelector(\(quote(selector))); return e ? e.textContent : ''})()") as? String) ?? ""
    }

    var path: String {
        get async throws { (try await eval("location.pathname + location.search") as? String) ?? "" }
    }

    /// Console errors, uncaught exceptions and failed requests since the last call.
    func takeProblems() -> [String] {
        let p = browser.problems(of: session)
        browser.clearProblems(of: session)
        return p
    }

    /// A PNG of the whole page.
    func screenshot(to path: String) async throws {
        let r = try await browser.send("Page.captureScreenshot", ["format": "png", "captureBeyondViewport": true], session: session)
        guard let b64 = r["data"] as? String, let data = Data(base64Encoded: b64) else { throw Browser.Failure(description: "no screenshot") }
        try data.write(to: URL(fileURLWithPath: path))
    }

    func quote(_ s: String) -> String {
        let data = try! JSONSerialization.data(withJSONObject: [s])
        let text = String(decoding: data, as: UTF8.self)
        return String(text.dropFirst().dropLast())
    }
}
