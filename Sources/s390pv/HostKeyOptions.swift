import ArgumentParser
import Foundation
import KernelModel
import SecureExecution

/// --host-key: the emulated Ultravisor's key, shared by the commands that start a kernel model.
struct HostKeyOptions: ParsableArguments {
    @Option(help: "PEM file with the Ultravisor's P-521 host private key (default: \(HostKeyOptions.defaultHostKeyDirectory)/host-key.pem, created on first use).")
    var hostKey: String?

    /// The per-user key directory: $XDG_DATA_HOME/s390pv, else ~/.local/share/s390pv.
    static var defaultHostKeyDirectory: String {
        let environment = ProcessInfo.processInfo.environment
        let base = environment["XDG_DATA_HOME"].flatMap { $0.isEmpty ? nil : $0 }
            ?? (NSHomeDirectory() as NSString).appendingPathComponent(".local/share")
        return (base as NSString).appendingPathComponent("s390pv")
    }

    /// Gives the emulated Ultravisor its host key, as the firmware of a real host has one;
    /// returns the key file used.
    @discardableResult
    func install() -> String {
        var path = hostKey
        if path == nil {
            let directory = HostKeyOptions.defaultHostKeyDirectory
            path = (directory as NSString).appendingPathComponent(HostKeyCreate.keyFileName)
            if !FileManager.default.fileExists(atPath: path!) {
                do {
                    let pair = try HostKeyPair.create(in: directory, replace: false)
                    FileHandle.standardError.write(Data("s390pv: created this host's key \(pair.keyPath); seal images for it with mkimage -k \(pair.certificatePath)\n".utf8))
                } catch {
                    fail("cannot create the default host key: \(error.message)")
                }
            }
        }
        do { HostFirmware.installHostKey(try HostPrivateKey(contentsOfFile: path!)) } catch {
            fail("--host-key \(path!): \(error)")
        }
        return path!
    }
}
