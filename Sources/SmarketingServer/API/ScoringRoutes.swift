import Foundation
import HTTPTypes
import Hummingbird
import SmarketingConnectors
import SmarketingCore
import SmarketingStore
import Synchronization

/// Model applies running in the background, by job id (kept in memory; the stored version's
/// status — applying, active, failed — is the durable record).
final class ScoringJobs: Sendable {
    struct Job: Sendable, Encodable {
        var id: String
        var status: String
        var done: Int
        var total: Int
        var result: ApplyResult?
        var error: String?
        /// For a settings change's rebuild: the phase it is in, and what it changed once done.
        var phase: String? = nil
        var message: String? = nil
    }
    private let jobs = Mutex<[String: Job]>([:])

    func start(_ id: String) { jobs.withLock { $0[id] = Job(id: id, status: "running", done: 0, total: 0) } }
    func update(_ id: String, _ change: @Sendable (inout Job) -> Void) { jobs.withLock { if $0[id] != nil { change(&$0[id]!) } } }
    func get(_ id: String) -> Job? { jobs.withLock { $0[id] } }
}

extension APIHandlers {
    func scoring(_ route: APIRoute, _ request: Request, _ context: AppRequestContext, _ actor: Actor) async throws -> Response {
        switch route.kind {
        case .scoringModel:
            guard let v = try await store.activeScoringVersion() else { throw Problem(.notFound, "no scoring model has been applied yet") }
            return try json(.ok, v)
        case .scoringVersions:
            return try json(.ok, ["data": try await store.scoringVersions()])
        case .scoringValidate:
            let text = try await modelText(request)
            switch ScoringModelFile.read(text) {
            case .success(let m):
                return try json(
                    .ok,
                    ValidateOut(valid: true, fitRules: m.fit.rules.count, engagementRules: m.engagement.rules.count, mql: m.mqlText, problems: [])
                )
            case .failure(let p):
                try refuseUnlessMapping(p, request)
                return try json(.ok, ValidateOut(valid: false, problems: p.problems.map { .init(line: $0.line, column: $0.column, message: $0.message) }))
            }
        case .scoringDiff:
            guard AccessPolicy.mayChangeScoring(actor.role) else { throw forbidden(actor, "change the scoring model") }
            let model = try parsedModel(try await modelText(request))
            return try json(.ok, try await store.scoringDiff(model, at: clock.now(), progress: nil))
        case .scoringApply:
            guard AccessPolicy.mayChangeScoring(actor.role) else { throw forbidden(actor, "change the scoring model") }
            let text = try await modelText(request)
            let model = try parsedModel(text)
            let comment = request.uri.queryParameters.get("comment") ?? ""
            let store = self.store
            let now = clock.now()
            let id = startJob { progress in
                try await store.applyScoringModel(text: text, model: model, comment: comment, actor: actor, at: now, progress: progress)
            }
            var response = try json(.accepted, jobs.get(id)!)
            response.headers[.location] = "/api/v1/scoring/jobs/" + id
            return response
        case .scoringJob:
            let id = try pathID(context)
            guard let job = jobs.get(id) else { throw Problem(.notFound, "no scoring job \"\(id)\" (jobs are kept until the server restarts)") }
            return try json(.ok, job)
        case .scoringBacktest:
            guard AccessPolicy.mayChangeScoring(actor.role) || actor.role == .sales else { throw forbidden(actor, "run backtests") }
            let model = try parsedModel(try await modelText(request))
            let q = request.uri.queryParameters
            let target = try BacktestTarget(rawValue: q.get("target") ?? "opportunity")
                .orThrow(Problem(.unprocessableContent, "target must be opportunity or won"))
            let horizon = try ScoringModel.duration(q.get("horizon") ?? "90d")
                .orThrow(Problem(.unprocessableContent, "horizon must be a duration such as 90d or 12w"))
            let candidateScorer = try await store.candidateScorer(model, version: 0)
            var activeScorer: Scorer?
            if let active = try await store.activeScoringVersion(), let m = ScoringModelFile.parser(active.text) {
                activeScorer = try await store.candidateScorer(m, version: active.version)
            }
            let contacts = try await store.backtestContacts(
                target: target,
                attributes: candidateScorer.attributes.union(activeScorer?.attributes ?? [])
            )
            guard let period = Backtest.period(of: contacts) else {
                throw Problem(.unprocessableContent, "the workspace has no contacts to backtest")
            }
            let from = try q.get("from").map { try instant($0, "from") } ?? period.from
            let to = try q.get("to").map { try instant($0, "to") } ?? period.to
            guard from < to else { throw Problem(.unprocessableContent, "from must be before to") }
            var capacity = q.get("capacity").flatMap(Double.init)
            if capacity == nil { capacity = try await store.salesCapacity() }
            let options = BacktestOptions(from: from, to: to, horizon: horizon, weeklyCapacity: capacity)
            let candidate = Backtest.run(contacts, scorer: candidateScorer, options: options)
            var current: BacktestJSON?
            if let activeScorer {
                var r = Backtest.run(contacts, scorer: activeScorer, options: options)
                r.modelVersion = activeScorer.version
                current = BacktestJSON(r)
            }
            // Would the candidate have sent fewer of the leads sales rated bad?
            let ratings = try await LeadQualityReads.backtest(store, contacts: contacts, candidate: candidateScorer, active: activeScorer)
            return try json(
                .ok,
                BacktestOut(
                    from: from.iso8601, to: to.iso8601, target: target.rawValue, candidate: BacktestJSON(candidate), current: current,
                    ratings: ratings.map { RatingsOut(candidate: $0.candidate, current: $0.current) }
                )
            )
        case .contactScore:
            let id = try pathID(context)
            guard let e = try await store.scoreExplanation(contactID: id, at: clock.now()) else { throw StoreError.notFound(.contacts, id) }
            return try json(.ok, ScoreJSON(e))
        case .contactTransitions:
            let id = try pathID(context)
            guard try await store.get(.contacts, id: id) != nil else { throw StoreError.notFound(.contacts, id) }
            return try json(.ok, ["data": try await store.transitions(contactID: id)])
        default:
            throw Problem(.notFound, "no such route")
        }
    }

    /// Runs a rescoring in the background as a job whose progress `GET /api/v1/scoring/jobs/{id}`
    /// reports; returns the job id.
    func startJob(_ work: @escaping @Sendable (@escaping @Sendable (RescoreProgress) -> Void) async throws -> ApplyResult?) -> String {
        let id = "job-" + UUID().uuidString.lowercased()
        let jobs = self.jobs
        jobs.start(id)
        Task.detached {
            do {
                let result = try await work { p in
                    jobs.update(id) {
                        $0.done = p.done
                        $0.total = p.total
                    }
                }
                jobs.update(id) {
                    $0.status = "done"
                    $0.result = result
                }
            } catch {
                jobs.update(id) {
                    $0.status = "failed"
                    $0.error = String(describing: error)
                }
            }
        }
        return id
    }

    /// Persona definitions changed: with a model active, every contact is matched and graded
    /// again in the background (the `Smarketing-Rescore-Job` header names the job).
    func regradeForPersonas(_ response: inout Response, _ actor: Actor) async throws {
        guard try await store.activeScoringVersion() != nil else { return }
        let store = self.store
        let now = clock.now()
        let id = startJob { progress in try await store.rescoreAll(actor: actor, at: now, progress: progress) }
        response.headers[HTTPField.Name("Smarketing-Rescore-Job")!] = "/api/v1/scoring/jobs/" + id
    }

    struct ValidateOut: Encodable {
        struct P: Encodable {
            var line: Int
            var column: Int
            var message: String
        }
        var valid: Bool
        var fitRules: Int?
        var engagementRules: Int?
        var mql: String?
        var problems: [P]
    }

    struct BacktestOut: Encodable {
        var from: String
        var to: String
        var target: String
        var candidate: BacktestJSON
        var current: BacktestJSON?
        /// The leads sales rated, replayed under each model up to their handover (absent when none is rated).
        var ratings: RatingsOut?
    }

    struct RatingsOut: Encodable {
        var candidate: RatingBacktest
        var current: RatingBacktest?
    }

    func instant(_ text: String, _ name: String) throws -> Timestamp {
        if let t = Timestamp.parse(dateOrInstant: text) { return t }
        throw Problem(.unprocessableContent, "\(name) \"\(text)\" is not a date (YYYY-MM-DD) or an ISO 8601 time")
    }

    /// A YAML file from the body (scoring model, handover configuration): the YAML itself, or JSON
    /// `{"model": "<yaml>"}` / `{"config": "<yaml>"}`.
    func modelText(_ request: Request) async throws -> String {
        let buffer = try await body(request)
        guard let text = String(validating: buffer.readableBytesView, as: UTF8.self) else { throw Problem(.badRequest, "the model must be UTF-8 text") }
        if request.headers[.contentType]?.hasPrefix("application/json") == true {
            let object = try jsonObject(buffer)
            guard let model = object["model"]?.string ?? object["config"]?.string else {
                throw Problem(
                    .unprocessableContent,
                    "send the file as the body (YAML), or JSON {\"model\": \"<the YAML text>\"} ({\"config\": …} for the handover)"
                )
            }
            return model
        }
        guard !text.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty else { throw Problem(.badRequest, "the body holds no model") }
        return text
    }

    /// The model, or 422 with every problem (line and column) and nothing applied.
    func parsedModel(_ text: String) throws -> ScoringModel {
        try parsedYAML(text, what: "the model", ScoringModelFile.read)
    }

    /// A validate route answers 200 with the problems of a file, but 422 for a body that is not
    /// a YAML mapping at all (a scalar, a list): that is not a model or configuration file.
    func refuseUnlessMapping(_ p: ModelFileProblems, _ request: Request) throws {
        // In the JSON form the file is a string member, which may hold any text.
        if request.headers[.contentType]?.hasPrefix("application/json") == true { return }
        if p.rootIsNotAMapping, let first = p.problems.first {
            throw Problem(.unprocessableContent, "the body must be a YAML mapping of keys to values (line \(first.line), column \(first.column))")
        }
    }

    /// A YAML file checked by `read`, or 422 listing every problem with line and column.
    func parsedYAML<T>(_ text: String, what: String, _ read: (String) -> Result<T, ModelFileProblems>) throws -> T {
        switch read(text) {
        case .success(let value): return value
        case .failure(let p):
            let list = p.problems.map { "{\"line\":\($0.line),\"column\":\($0.column),\"message\":\(JSONValue.string($0.message).compactText)}" }
            throw Problem(
                .unprocessableContent,
                "\(what) has \(p.problems.count) problem(s), first: \(p.problems.first.map { "line \($0.line), column \($0.column): \($0.message)" } ?? "-"); nothing was applied",
                extensions: [("problems", "[" + list.joined(separator: ",") + "]")]
            )
        }
    }

    func json<T: Encodable>(_ status: HTTPResponse.Status, _ value: T) throws -> Response {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.keyEncodingStrategy = .convertToSnakeCase
        return RecordJSON.response(status, String(decoding: try encoder.encode(value), as: UTF8.self))
    }
}

extension Optional {
    func orThrow(_ error: @autoclosure () -> any Error) throws -> Wrapped {
        guard let self else { throw error() }
        return self
    }
}
