import Foundation
import SmarketingCore
import SmarketingStore

/// Reading and writing whole bundles (docs: BUNDLE.md).
public enum Bundle {
    /// Opens the files of the bundle in `directory`, in import order. `contacts.csv` is
    /// required; other files may be missing. Throws the first problem that stops the import.
    public static func open(_ directory: String) throws(BundleProblem) -> [BundleFileReader] {
        var isDir: ObjCBool = false
        guard FileManager.default.fileExists(atPath: directory, isDirectory: &isDir), isDir.boolValue else {
            throw BundleProblem(file: directory, line: 0, column: 0, columnName: nil, message: "is not a directory")
        }
        var readers: [BundleFileReader] = []
        for r in Resource.importOrder {
            let path = (directory as NSString).appendingPathComponent(r.fileName)
            guard FileManager.default.fileExists(atPath: path) else {
                if r == .contacts {
                    throw BundleProblem(file: r.fileName, line: 0, column: 0, columnName: nil, message: "is missing (every bundle has contacts.csv)")
                }
                continue
            }
            readers.append(try BundleFileReader(directory: directory, resource: r))
        }
        return readers
    }

    /// Writes every resource of the store as a bundle into `directory`.
    public static func export(
        from store: any BundleStore,
        to directory: String,
        progress: @escaping @Sendable (String, Int) -> Void = { _, _ in }
    ) async throws -> [String: Int] {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        var counts: [String: Int] = [:]
        for r in Resource.importOrder {
            let writer = try CSVWriter(path: (directory as NSString).appendingPathComponent(r.fileName))
            writer.write(r.schema.fields.map(\.name))
            let box = WriteBox(writer: writer)
            try await store.exportRecords(r, chunkSize: 10_000) { records in
                for rec in records { box.writer.write(rec.values.map(\.csvText)) }
                box.count += records.count
                progress(r.fileName, box.count)
            }
            try writer.close()
            counts[r.fileName] = box.count
        }
        return counts
    }
}

/// The export's writer, handed to the store's read closure (one task at a time).
private final class WriteBox: @unchecked Sendable {
    let writer: CSVWriter
    var count = 0
    init(writer: CSVWriter) { self.writer = writer }
}
