import Foundation
import HTTPTypes
import Hummingbird
import SmarketingCore
import SmarketingStore

extension APIHandlers {
    /// `POST /api/v1/events`: one JSON object, a JSON array, or NDJSON (one object per line).
    /// Atomic by default (any rejected event stores none); `?partial=true` stores the valid ones.
    func ingest(_ request: Request, _ actor: Actor) async throws -> Response {
        guard AccessPolicy.mayIngest(actor.role) else { throw forbidden(actor, "send events") }
        let partial: Bool
        switch request.uri.queryParameters.get("partial") {
        case nil, "false": partial = false
        case "true": partial = true
        case let v?: throw Problem(.unprocessableContent, "partial must be true or false, not \"\(v)\"")
        }
        let buffer = try await body(request)
        let payloads = try EventBody.decode(buffer, contentType: request.headers[.contentType])
        guard !payloads.isEmpty else { throw Problem(.unprocessableContent, "the body holds no events") }
        guard payloads.count <= EventBody.maxEvents else {
            throw Problem(.contentTooLarge, "a request carries at most \(EventBody.maxEvents) events, not \(payloads.count); send several")
        }
        // `validate` holds each event to the documented Event schema (`formProblem`); a test
        // holds the two equal on generated events.
        let events = payloads.map { result in result.flatMap { $0.validate() } }
        let result = try await committer.submit(IngestBatch(events: events, atomic: !partial, actor: actor))
        var results = "["
        var accepted = 0
        var duplicates = 0
        var rejected = 0
        for (i, outcome) in result.outcomes.enumerated() {
            if i > 0 { results += "," }
            results += "{\"index\":\(i),\"id\":"
            if case .success(let p) = payloads[i], let id = p.clientID { JSONValue.quote(id, into: &results) } else { results += "null" }
            results += ",\"status\":\"\(outcome.status)\""
            switch outcome {
            case .accepted(let contactID):
                accepted += 1
                results += ",\"contact_id\":"
                JSONValue.quote(contactID, into: &results)
            case .duplicate:
                duplicates += 1
            case .rejected(let reason):
                rejected += 1
                results += ",\"reason\":"
                JSONValue.quote(reason, into: &results)
            }
            results += "}"
        }
        results += "]"
        if !result.committed {
            let firstReason =
                result.outcomes.enumerated().compactMap { i, o -> String? in
                    if case .rejected(let r) = o, !r.hasPrefix("not stored:") { return "event \(i): \(r)" }
                    return nil
                }.first ?? "an event was rejected"
            // 422 when an event breaks the event format; 409 when every event has a valid form
            // and the store refused one (it names a record that does not exist).
            let malformed = events.contains { if case .failure = $0 { return true } else { return false } }
            throw Problem(
                malformed ? .unprocessableContent : .conflict,
                "nothing was stored: \(firstReason) (see results; send ?partial=true to store the valid events)",
                extensions: [("results", results)]
            )
        }
        metrics?.ingested(events: accepted, batchSize: result.outcomes.count)
        return RecordJSON.response(.ok, "{\"accepted\":\(accepted),\"duplicates\":\(duplicates),\"rejected\":\(rejected),\"results\":\(results)}")
    }
}

/// Splits an ingest body into event payloads.
enum EventBody {

    /// The most events one request may carry (documented as the batch's `maxItems`).
    static let maxEvents = 10_000

    static func decode(_ buffer: ByteBuffer, contentType: String?) throws -> [Result<EventPayload, EventRejection>] {
        let isNDJSON = contentType?.contains("ndjson") == true || contentType?.contains("jsonlines") == true
        guard String(validating: buffer.readableBytesView, as: UTF8.self) != nil else {
            throw Problem(.badRequest, "the body is not UTF-8 text (JSON and NDJSON are UTF-8)")
        }
        let bytes = Array(buffer.readableBytesView)
        let result = bytes.withUnsafeBufferPointer { b in Result { () throws(EventJSON.BodyError) in try EventJSON.parse(b, ndjson: isNDJSON) } }
        switch result {
        case .success(let events): return events
        case .failure(let error): throw Problem(.badRequest, error.message)
        }
    }
}

extension EventPayload {
    /// The client's `id`, if it sent one.
    var clientID: String? { fieldText("id") }
}
